/**
 * /metrics and /status. On the app-facing listener, or on `server.adminPort`
 * for operators who want them off it. /status is built from each
 * component's status(): token state but never the token; and which config
 * runs (config-state.ts). Both read the running generation at request time,
 * so a reload shows at once wherever they are served.
 */
import type { FastifyInstance } from 'fastify'
import type { UpstreamRuntime } from '../proxy/runtime.js'
import type { ConfigStatus } from './config-state.js'
import type { Lifecycle } from './health.js'
import type { Metrics } from './metrics.js'

export interface OpsView {
  readonly metrics: Metrics
  readonly lifecycle: Lifecycle
  /** The running generation's upstreams. */
  upstreams (): readonly UpstreamRuntime[]
  config (): ConfigStatus
}

export function registerOpsEndpoints (app: FastifyInstance, view: OpsView): void {
  const { metrics, lifecycle } = view
  app.get('/metrics', async (_request, reply) => {
    return reply.type(metrics.registry.contentType).send(await metrics.registry.metrics())
  })

  app.get('/status', async () => ({
    status: lifecycle.draining ? 'draining' : 'ready',
    config: view.config(),
    upstreams: Object.fromEntries(view.upstreams().map((runtime) => {
      const limiter = runtime.limiter.status()
      return [runtime.config.name, {
        prefix: runtime.config.prefix,
        target: runtime.config.target,
        auth: runtime.credentials.status(),
        limiter: {
          ...limiter,
          // JSON has no Infinity: an upstream without rateLimit says so in words.
          requests: Number.isFinite(limiter.requests) ? limiter.requests : 'unlimited',
          remaining: Number.isFinite(limiter.remaining) ? limiter.remaining : 'unlimited'
        }
      }]
    }))
  }))
}
