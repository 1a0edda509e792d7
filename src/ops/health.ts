/** Liveness and readiness, for Kubernetes probes and HEALTHCHECK. */
import type { FastifyInstance } from 'fastify'

export interface Lifecycle {
  /** Set when shutdown begins: /readyz turns 503 and new proxied requests are refused. */
  draining: boolean
}

export function registerHealth (app: FastifyInstance, lifecycle: Lifecycle): void {
  app.get('/healthz', async () => ({ status: 'ok' }))
  app.get('/readyz', async (_request, reply) => {
    if (lifecycle.draining) return reply.code(503).send({ status: 'draining' })
    return { status: 'ready' }
  })
}

/** /healthz and /readyz, with or without a query string: kubelets and load balancers add their own. */
export function isProbe (url: string): boolean {
  return url === '/healthz' || url === '/readyz' || url.startsWith('/healthz?') || url.startsWith('/readyz?')
}
