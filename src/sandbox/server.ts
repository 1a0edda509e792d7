/**
 * The sandbox vendors: one Fastify app that fakes every preset's vendor,
 * each under `/<preset name>` (layout.ts), behaving as its documentation
 * describes (vendors/*.ts). For users' CI and for tollgate's own tests and
 * demo: see docs/sandbox.md.
 *
 * `buildSandbox` never listens (fastify Testing guide); `startSandbox` does,
 * on loopback unless told otherwise.
 */
import type { AddressInfo } from 'node:net'
import Fastify, { type FastifyInstance } from 'fastify'
import type { PresetName } from '../config/presets.js'
import { registerAdmin, type RevokeRequest } from './admin.js'
import { sandboxEndpoints, VENDOR_LAYOUTS, type SandboxEndpoints } from './layout.js'
import { resolveSandboxOptions, type SandboxCredentials, type SandboxOptions } from './options.js'
import { ReplayCache } from './replay-cache.js'
import { StatsBoard, type SandboxStats } from './stats.js'
import { TokenStore } from './token-store.js'
import type { VendorContext } from './vendor-context.js'
import { registerHalaxy } from './vendors/halaxy.js'
import { registerHealthHero } from './vendors/healthhero.js'
import { registerNikoHealth } from './vendors/nikohealth.js'
import { PHOTON_AUDIENCES, registerPhoton } from './vendors/photon.js'
import { registerRedox } from './vendors/redox.js'

/** Token requests are small; this only stops a runaway client. */
const BODY_LIMIT = 1024 * 1024

export interface Sandbox {
  readonly app: FastifyInstance
  /** One working client per vendor; Redox's only when the sandbox generated its key pair. */
  readonly credentials: SandboxCredentials
  /** A copy of the counters per vendor. */
  stats (): SandboxStats
  /** Revokes the live tokens that match (all when empty); returns how many. */
  revoke (filter?: RevokeRequest): number
  /** Forgets every issued token, used assertion id, rate-limit history and counter. */
  reset (): void
}

export function buildSandbox (options: SandboxOptions = {}): Sandbox {
  const resolved = resolveSandboxOptions(options)
  const { now } = resolved
  const tokens = new TokenStore({ now, max: resolved.maxTokens })
  const replays = new ReplayCache(resolved.maxTokens)
  const stats = new StatsBoard()
  const resets: Array<() => void> = []

  const app = Fastify({ logger: resolved.logger, bodyLimit: BODY_LIMIT })
  // Token endpoints must see the raw body to refuse a wrong media type the
  // OAuth way (400 invalid_request), not with Fastify's 415; each route reads
  // the body itself.
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => { done(null, body) })

  const mount = (vendor: PresetName, register: (scope: FastifyInstance, ctx: VendorContext) => void): void => {
    const ctx: VendorContext = { vendor, prefix: `/${vendor}`, now, tokens, stats: stats.of(vendor), lifetime: resolved.vendors[vendor] }
    app.register(async (scope) => { register(scope, ctx) }, { prefix: ctx.prefix })
  }
  const { vendors } = resolved
  for (const vendor of ['halaxy', 'halaxy-eu'] as const) {
    mount(vendor, (scope, ctx) => { resets.push(registerHalaxy(scope, ctx, vendors[vendor], VENDOR_LAYOUTS[vendor]).reset) })
  }
  mount('healthhero', (scope, ctx) => { registerHealthHero(scope, ctx, vendors.healthhero, VENDOR_LAYOUTS.healthhero) })
  mount('redox', (scope, ctx) => { resets.push(registerRedox(scope, ctx, vendors.redox, VENDOR_LAYOUTS.redox, replays).reset) })
  for (const vendor of ['photon', 'photon-sandbox'] as const) {
    mount(vendor, (scope, ctx) => { registerPhoton(scope, ctx, vendors[vendor], VENDOR_LAYOUTS[vendor], PHOTON_AUDIENCES[vendor]) })
  }
  mount('nikohealth', (scope, ctx) => { registerNikoHealth(scope, ctx, vendors.nikohealth, VENDOR_LAYOUTS.nikohealth) })

  const sandbox: Sandbox = {
    app,
    credentials: resolved.credentials,
    stats: () => stats.snapshot(),
    revoke: (filter = {}) => tokens.revoke(filter),
    reset: () => {
      tokens.clear()
      replays.clear()
      stats.reset()
      for (const reset of resets) reset()
    }
  }
  registerAdmin(app, sandbox)
  return sandbox
}

export interface StartSandboxOptions extends SandboxOptions {
  /** Default 0: any free port (`url` says which). */
  readonly port?: number
  /** Default 127.0.0.1. The sandbox accepts well-known default credentials: keep it on loopback. */
  readonly host?: string
}

export interface RunningSandbox extends Sandbox {
  /** e.g. `http://127.0.0.1:4010` */
  readonly url: string
  /** Each preset's target and token URL in this sandbox. */
  readonly endpoints: Record<PresetName, SandboxEndpoints>
  close (): Promise<void>
}

export async function startSandbox (options: StartSandboxOptions = {}): Promise<RunningSandbox> {
  const { port = 0, host = '127.0.0.1', ...sandboxOptions } = options
  const sandbox = buildSandbox(sandboxOptions)
  await sandbox.app.listen({ host, port })
  const address = sandbox.app.server.address() as AddressInfo
  const url = `http://${urlHost(address.address)}:${address.port}`
  return { ...sandbox, url, endpoints: sandboxEndpoints(url), close: async () => { await sandbox.app.close() } }
}

/** A host for URLs: wildcard addresses become loopback, IPv6 gets brackets. */
function urlHost (address: string): string {
  if (address === '0.0.0.0') return '127.0.0.1'
  if (address === '::') return '[::1]'
  return address.includes(':') ? `[${address}]` : address
}
