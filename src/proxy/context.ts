/** Per-request state the proxy keeps on the Fastify request, plain data. */
import type { Permit } from '../limit/limiter.js'
import type { UpstreamMeter } from '../ops/metrics.js'

export interface ProxyContext {
  /** The upstream's name, for logs and problem answers. */
  readonly upstream: string
  /** Its metrics, recorded by the one onResponse hook (server.ts) that also logs the request. */
  readonly meter: UpstreamMeter
  /** Base path + normalised suffix, without the query (sent byte for byte from the raw URL). */
  readonly path: string
  /** The Authorization value this attempt carries; what a 401 invalidates. */
  authorization: string | undefined
  /** The current attempt's limiter permit: answered() when the upstream answers, release() when the exchange ends. */
  permit: Permit | undefined
  /** The current attempt went out to the upstream: its unit is stamped, never given back. */
  dispatched: boolean
  /** The body kept for replay, when the request is retryable and small enough. */
  replayBody: Buffer | undefined
  /** Whether a failed attempt may be sent again (idempotent method, body absent or kept). */
  replayable: boolean
  attempts: number
  retried401: number
  retried429: number
  /** Time spent waiting for a token or a limiter slot, across attempts. */
  waitedMs: number
  /** performance.now() when the current attempt was dispatched. */
  attemptStartedAt: number
  /** The upstream's time to response headers (or failure), summed over attempts. */
  upstreamMs: number
  /** tollgate's own share of the time to the final response headers, once known. */
  sidecarMs: number | undefined
  /** The request body broke tollgate's own limit (a chunked body over bodyLimit). */
  bodyError?: Error
}

declare module 'fastify' {
  interface FastifyRequest {
    tollgate: ProxyContext | null
  }
}
