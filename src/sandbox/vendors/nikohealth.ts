/**
 * NikoHealth, as NikoHealth's page describes it:
 * - token: POST /api/identity/connect/token,
 *   `Content-Type: application/x-www-form-urlencoded`,
 *   `Authorization: Basic YOUR-ENCODED-CREDENTIALS` and only
 *   `grant_type=client_credentials` in the form; answer
 *   `{ access_token, expires_in: 1200, token_type: 'Bearer', scope: 'external' }`;
 * - API: /api/external/v1/patients and the rest of /api/external.
 *
 * The page's parameter table also lists client_id and client_secret, but its
 * example request sends the credentials only in Basic. The sandbox follows
 * the example, so a client configured for client_secret_post is refused here
 * instead of passing a test and failing against the vendor.
 */
import { randomBytes } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import { authenticateWithSecret } from '../client-secret.js'
import { describeRequest } from '../echo.js'
import type { VendorLayout } from '../layout.js'
import { invalidScope } from '../oauth-error.js'
import type { ResolvedSecretVendor } from '../options.js'
import { resourceHandler } from '../resource-route.js'
import { registerTokenEndpoint } from '../token-endpoint.js'
import { readTokenRequest } from '../token-request.js'
import { issueToken, type VendorContext } from '../vendor-context.js'

const DOC = 'see docs/vendors/nikohealth.md'

/** NikoHealth's page: `"scope": "external"`, also the only scope its Swagger page offers. */
const SCOPE = 'external'

export function registerNikoHealth (app: FastifyInstance, ctx: VendorContext, options: ResolvedSecretVendor, paths: VendorLayout): void {
  registerTokenEndpoint(app, paths.tokenPath, ctx, async (request) => {
    const params = readTokenRequest(request, 'form', DOC)
    if (!params.ok) return params
    const client = authenticateWithSecret(request, params.value, 'client_secret_basic', options.clients, ctx.vendor)
    if (!client.ok) return client
    const scope = params.value.get('scope')
    if (scope !== undefined && scope !== SCOPE) return { ok: false, error: invalidScope(`the only scope is ${SCOPE}`) }
    // The page's example tokens are 64 upper-case hex digits.
    const { token } = await issueToken(ctx, client.value, () => randomBytes(32).toString('hex').toUpperCase())
    return { ok: true, body: { access_token: token, expires_in: ctx.lifetime.expiresInSeconds, token_type: 'Bearer', scope: SCOPE } }
  })

  app.all(`${paths.target}/external/*`, resourceHandler(ctx, (request, reply) => reply.send(describeRequest(request, ctx.vendor, ctx.prefix))))
}
