/**
 * HealthHero (Doctorlink), as HealthHero's page describes it:
 * - token: POST {identity}/connect/token,
 *   `content-type: application/x-www-form-urlencoded`, with grant_type,
 *   client_id and client_secret in the form; the answer carries
 *   access_token, token_type and expires_in, and "The access_token is in the
 *   format of a JSON Web Token (JWT)";
 * - API: {traversal}/api/v1/CLIENT_ID/traversal, where "CLIENT_ID is your
 *   application client ID".
 *
 * The JWT is signed HS256 with a key made per sandbox: only the sandbox
 * checks it, and clients only read its `exp` (tollgate's fallback when an
 * answer lacks expires_in).
 */
import { randomBytes, randomUUID } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import { SignJWT } from 'jose'
import { authenticateWithSecret } from '../client-secret.js'
import { describeRequest } from '../echo.js'
import type { VendorLayout } from '../layout.js'
import type { ResolvedSecretVendor } from '../options.js'
import { resourceHandler } from '../resource-route.js'
import { registerTokenEndpoint } from '../token-endpoint.js'
import { readTokenRequest } from '../token-request.js'
import { issueToken, requestOrigin, type VendorContext } from '../vendor-context.js'

const DOC = 'see docs/vendors/healthhero.md'

export function registerHealthHero (app: FastifyInstance, ctx: VendorContext, options: ResolvedSecretVendor, paths: VendorLayout): void {
  const signingKey = randomBytes(32)

  registerTokenEndpoint(app, paths.tokenPath, ctx, async (request) => {
    const params = readTokenRequest(request, 'form', DOC)
    if (!params.ok) return params
    const client = authenticateWithSecret(request, params.value, 'client_secret_post', options.clients, ctx.vendor)
    if (!client.ok) return client
    const issuer = `${requestOrigin(request)}${ctx.prefix}/identity`
    const { token } = await issueToken(ctx, client.value, async (issuedAt, expiresAt) =>
      await new SignJWT({ client_id: client.value })
        .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt' })
        .setIssuer(issuer)
        .setSubject(client.value)
        .setAudience(`${requestOrigin(request)}${ctx.prefix}${paths.target}`)
        .setIssuedAt(Math.floor(issuedAt / 1000))
        // Floor, so the JWT never claims a moment the sandbox no longer honours.
        .setExpirationTime(Math.floor(expiresAt / 1000))
        .setJti(randomUUID())
        .sign(signingKey))
    return { ok: true, body: { access_token: token, token_type: 'Bearer', expires_in: ctx.lifetime.expiresInSeconds } }
  })

  // The client id in the path must be the token's client: a token for one
  // client does not open another's traversals.
  app.all(`${paths.target}/api/v1/:clientId/*`, resourceHandler(ctx, (request, reply, token) => {
    const { clientId } = request.params as { clientId: string }
    if (clientId !== token.clientId) {
      return reply.code(403).send({ error: 'forbidden', error_description: 'the client id in the path is not the client this token was issued to' })
    }
    return reply.send(describeRequest(request, ctx.vendor, ctx.prefix))
  }))
}
