/**
 * The sandbox's own endpoints, under `/_sandbox` (no vendor path starts
 * with an underscore), for tests that drive it over HTTP:
 * - `GET  /_sandbox`        each vendor's target and token URL here;
 * - `GET  /_sandbox/stats`  the counters (see stats.ts);
 * - `POST /_sandbox/revoke` JSON `{ vendor?, clientId? }`: revoke the live
 *   tokens that match (all when empty), as a vendor revoking keys would;
 *   answers `{ revoked: n }`;
 * - `POST /_sandbox/reset`  forget every issued token, used assertion id,
 *   rate-limit history and counter: a fresh sandbox without a restart.
 *
 * No credentials are ever served here.
 */
import type { FastifyInstance } from 'fastify'
import { isPresetName, type PresetName } from '../config/presets.js'
import { sandboxEndpoints } from './layout.js'
import type { SandboxStats } from './stats.js'
import { requestOrigin } from './vendor-context.js'

export interface RevokeRequest {
  readonly vendor?: PresetName
  readonly clientId?: string
}

export interface AdminActions {
  stats (): SandboxStats
  revoke (filter: RevokeRequest): number
  reset (): void
}

export function registerAdmin (app: FastifyInstance, actions: AdminActions): void {
  app.get('/_sandbox', async (request) => ({ vendors: sandboxEndpoints(requestOrigin(request)) }))

  app.get('/_sandbox/stats', async () => actions.stats())

  app.post('/_sandbox/revoke', async (request, reply) => {
    const filter = readRevokeFilter(request.headers['content-type'], request.body)
    if (typeof filter === 'string') return reply.code(400).send({ error: 'invalid_request', error_description: filter })
    return { revoked: actions.revoke(filter) }
  })

  app.post('/_sandbox/reset', async (_request, reply) => {
    actions.reset()
    return reply.code(204).send()
  })
}

/** The filter, or what is wrong with the body. An empty body revokes everything. */
function readRevokeFilter (contentType: string | undefined, body: unknown): RevokeRequest | string {
  if (!Buffer.isBuffer(body) || body.length === 0) return {}
  if (contentType?.split(';')[0]?.trim().toLowerCase() !== 'application/json') return 'the body must be application/json'
  let parsed: unknown
  try {
    parsed = JSON.parse(body.toString('utf8'))
  } catch {
    return 'the body is not valid JSON'
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return 'the body must be a JSON object'
  const { vendor, clientId, ...rest } = parsed as Record<string, unknown>
  const unknown = Object.keys(rest)
  if (unknown.length > 0) return `unknown field ${unknown[0] ?? ''}: use vendor and clientId`
  if (vendor !== undefined && !isPresetName(vendor)) return 'vendor must be a sandbox vendor name'
  if (clientId !== undefined && typeof clientId !== 'string') return 'clientId must be a string'
  return { ...(vendor === undefined ? {} : { vendor }), ...(clientId === undefined ? {} : { clientId }) }
}
