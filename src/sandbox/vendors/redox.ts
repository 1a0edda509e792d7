/**
 * Redox, as Redox's page and peers-and-pitfalls §8 describe it:
 * - token: POST /v2/auth/token, `application/x-www-form-urlencoded`, with
 *   grant_type=client_credentials, client_assertion_type (jwt-bearer) and a
 *   client_assertion signed with the client's private key; "Redox validates
 *   the signature in the request using your public key, then sends back a
 *   response with the access token", which "expires after 5 minutes" (the
 *   copy shows no answer body, so it has RFC 6749 §5.1's fields);
 * - API: the FHIR API, whose base is /fhir/R4/{organization}/{environment}
 *   (Redox's API reference); as a FHIR server does, search (`_count`,
 *   `next`/`previous` links), read and create there, state in memory
 *   (fhir-api.ts), every URL absolute under that base. Anything else below
 *   /fhir/R4 answers with a plain JSON echo of what arrived.
 *
 * The assertion's `aud` must be this token URL as the client reached it,
 * which is what tollgate sends by default (`assertionAudience` = tokenUrl).
 * A `jku` header is ignored: keys come only from the sandbox's options,
 * never from a URL the client names.
 */
import type { FastifyInstance } from 'fastify'
import { createAssertionVerifier } from '../client-assertion.js'
import { readBasic } from '../client-secret.js'
import { describeRequest } from '../echo.js'
import { registerFhirApi } from '../fhir-api.js'
import type { VendorLayout } from '../layout.js'
import { invalidClient, invalidRequest } from '../oauth-error.js'
import type { ResolvedRedox } from '../options.js'
import type { ReplayCache } from '../replay-cache.js'
import { resourceHandler, type ResourceHandler } from '../resource-route.js'
import { registerTokenEndpoint } from '../token-endpoint.js'
import { readTokenRequest } from '../token-request.js'
import { issueToken, requestOrigin, requestUrl, type VendorContext } from '../vendor-context.js'

const DOC = 'see docs/vendors/redox.md'

export function registerRedox (app: FastifyInstance, ctx: VendorContext, options: ResolvedRedox, paths: VendorLayout, replays: ReplayCache): { reset: () => void } {
  const verifier = createAssertionVerifier(options.clients, replays)

  registerTokenEndpoint(app, paths.tokenPath, ctx, async (request) => {
    const params = readTokenRequest(request, 'form', DOC)
    if (!params.ok) return params
    const basic = readBasic(request.headers.authorization)
    if (basic !== undefined) {
      // Two methods at once is malformed (RFC 6749 §2.3); Basic alone is a method Redox does not take (§5.2).
      return params.value.has('client_assertion')
        ? { ok: false, error: invalidRequest('use one client authentication method: the client_assertion, without HTTP Basic') }
        : { ok: false, error: invalidClient('this token endpoint authenticates clients with a signed client_assertion, not HTTP Basic', `Basic realm="${ctx.vendor}"`) }
    }
    const client = await verifier.verify(params.value, requestUrl(request), ctx.now())
    if (!client.ok) return client
    const { token } = await issueToken(ctx, client.value)
    return { ok: true, body: { access_token: token, token_type: 'Bearer', expires_in: ctx.lifetime.expiresInSeconds } }
  })

  const echo: ResourceHandler = (request, reply) => reply.send(describeRequest(request, ctx.vendor, ctx.prefix))
  // One store for every organization and environment: the sandbox keeps no tenants apart.
  const fhir = registerFhirApi(app, ctx, {
    root: `${paths.target}/fhir/R4/:organization/:environment`,
    base: (request) => {
      const { organization, environment } = request.params as { organization: string, environment: string }
      return `${requestOrigin(request)}${ctx.prefix}${paths.target}/fhir/R4/${organization}/${environment}`
    },
    notModelled: echo
  })
  app.all(`${paths.target}/fhir/R4/*`, resourceHandler(ctx, echo))
  return fhir
}
