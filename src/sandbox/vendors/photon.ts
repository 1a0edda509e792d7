/**
 * Photon Health, as Photon's page describes it (mounted twice: `photon` for
 * production, `photon-sandbox` for Photon's own "neutron" sandbox):
 * - token: POST /oauth/token, `content-type: application/json`, body
 *   `{ client_id, client_secret, audience, grant_type }` where audience is
 *   the API host of that environment; answer `{ access_token, scope,
 *   expires_in: 86400, token_type: 'Bearer' }`;
 * - API: the Clinical API host, whose paths the page does not give; any path
 *   below /api answers a plain JSON echo.
 *
 * The audience is an identifier of the API (an Auth0 "API"), not a URL that
 * is fetched, so each mount expects its environment's real value, as the
 * preset fills it: using production's audience against the sandbox fails
 * here as it would at Photon.
 */
import type { FastifyInstance } from 'fastify'
import { authenticateWithSecret } from '../client-secret.js'
import { describeRequest } from '../echo.js'
import type { VendorLayout } from '../layout.js'
import { invalidRequest, invalidTarget } from '../oauth-error.js'
import type { ResolvedSecretVendor } from '../options.js'
import { resourceHandler } from '../resource-route.js'
import { registerTokenEndpoint } from '../token-endpoint.js'
import { readTokenRequest } from '../token-request.js'
import { issueToken, type VendorContext } from '../vendor-context.js'

const DOC = 'see docs/vendors/photon.md'

/** Photon's page, the example answer's `scope` for a machine-to-machine token. */
export const PHOTON_M2M_SCOPE = 'read:patient write:patient read:prescription read:order write:order'

/** Photon's page: `"audience":"https://api.photon.health"` and, for the sandbox, `"https://api.neutron.health"`. */
export const PHOTON_AUDIENCES = {
  photon: 'https://api.photon.health',
  'photon-sandbox': 'https://api.neutron.health'
} as const

export function registerPhoton (app: FastifyInstance, ctx: VendorContext, options: ResolvedSecretVendor, paths: VendorLayout, audience: string): void {
  registerTokenEndpoint(app, paths.tokenPath, ctx, async (request) => {
    const params = readTokenRequest(request, 'json', DOC)
    if (!params.ok) return params
    const client = authenticateWithSecret(request, params.value, 'client_secret_post', options.clients, ctx.vendor)
    if (!client.ok) return client
    const requested = params.value.get('audience')
    if (requested === undefined) return { ok: false, error: invalidRequest(`audience is required: ${audience}`) }
    if (requested !== audience) return { ok: false, error: invalidTarget(`unknown audience ${JSON.stringify(requested)}; this environment's API is ${audience}`) }
    const { token } = await issueToken(ctx, client.value)
    return { ok: true, body: { access_token: token, scope: PHOTON_M2M_SCOPE, expires_in: ctx.lifetime.expiresInSeconds, token_type: 'Bearer' } }
  })

  app.all(`${paths.target}/*`, resourceHandler(ctx, (request, reply) => reply.send(describeRequest(request, ctx.vendor, ctx.prefix))))
  app.all(paths.target, resourceHandler(ctx, (request, reply) => reply.send(describeRequest(request, ctx.vendor, ctx.prefix))))
}
