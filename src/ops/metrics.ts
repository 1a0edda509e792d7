/**
 * /metrics: Prometheus text from prom-client. Per request: an array increment
 * for tollgate_requests_total (turned into the counter's values by its
 * collect() at scrape time) and two observe() calls on the duration
 * histogram's series, bound at startup. Everything that is state (token
 * expiry, queue depth, limiter counters) is read at scrape time too, so an
 * unscraped sidecar pays nothing for it. Labels are bounded: upstream names
 * from the config, a fixed method set, status classes, never a path.
 */
import { Counter, Gauge, Histogram, Registry } from './prom-client.js'
import type { CredentialSource } from '../auth/source.js'
import type { Limiter } from '../limit/limiter.js'
import { registerProcessMetrics } from './process-metrics.js'

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'OTHER']
const METHOD_INDEX = new Map(METHODS.map((method, i) => [method, i]))
const OTHER_METHOD = METHODS.length - 1
const STATUS_CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx']
// Sidecar overhead is sub-millisecond; upstream calls take tens to thousands of ms.
const BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]

export interface MeteredUpstream {
  readonly name: string
  readonly credentials: CredentialSource
  readonly limiter: Limiter
}

/** What the proxy reports about one upstream; one object per upstream, built at startup. */
export interface UpstreamMeter {
  /** One finished request: status, the sidecar's own time and the upstream's, in ms. */
  request (method: string, status: number, sidecarMs: number, upstreamMs: number | undefined): void
  retry (reason: '401' | '429'): void
  rejected (reason: 'queue_full' | 'queue_timeout' | 'paused' | 'shutting_down'): void
  tokenFetch (outcome: 'ok' | 'failed'): void
}

export interface Metrics {
  readonly registry: Registry
  /** An answer tollgate gave itself (a problem+json), by TG_* code: tells its own 5xx from the vendor's. */
  problem (upstream: string | undefined, code: string): void
  meter (name: string): UpstreamMeter
  /** Components whose status() is read at scrape time. */
  watch (upstreams: readonly MeteredUpstream[]): void
  /** The shared store's state, read at scrape time. */
  watchStore (status: () => { readonly type: string, readonly available: boolean, readonly outages: number }): void
}

export function createMetrics (): Metrics {
  const registry = new Registry()
  // prom-client's default process metrics, with an event-loop lag that does not tick while idle.
  const lag = registerProcessMetrics(registry, 'tollgate_')
  let watched: readonly MeteredUpstream[] = []
  let storeStatus: (() => { readonly type: string, readonly available: boolean, readonly outages: number }) | undefined

  // Answered requests per upstream: a count per (method, status class), kept in plain arrays.
  const answered = new Map<string, Float64Array>()
  // eslint-disable-next-line no-new -- prom-client registers the metric itself
  new Counter({
    name: 'tollgate_requests_total',
    help: 'Requests answered, by upstream, method and status class',
    labelNames: ['upstream', 'method', 'status_class'],
    registers: [registry],
    collect () {
      this.reset()
      for (const [upstream, counts] of answered) {
        for (let m = 0; m < METHODS.length; m++) {
          for (let c = 0; c < STATUS_CLASSES.length; c++) {
            this.inc({ upstream, method: METHODS[m] as string, status_class: STATUS_CLASSES[c] as string }, counts[m * STATUS_CLASSES.length + c] as number)
          }
        }
      }
    }
  })
  const duration = new Histogram({ name: 'tollgate_request_duration_seconds', help: 'Time to the response headers: phase "sidecar" is tollgate\'s own (routing, token, queue), "upstream" the vendor\'s', labelNames: ['upstream', 'phase'], buckets: BUCKETS, registers: [registry] })
  const retries = new Counter({ name: 'tollgate_retries_total', help: 'Transparent retries, by reason (401, 429)', labelNames: ['upstream', 'reason'], registers: [registry] })
  const rejections = new Counter({ name: 'tollgate_limiter_rejections_total', help: 'Requests refused with 503 by the limiter', labelNames: ['upstream', 'reason'], registers: [registry] })
  const tokenFetches = new Counter({ name: 'tollgate_token_fetches_total', help: 'Token requests to the token endpoint, by outcome', labelNames: ['upstream', 'outcome'], registers: [registry] })
  const problems = new Counter({ name: 'tollgate_problems_total', help: 'Answers tollgate gave itself (problem+json), by TG_* code; upstream is empty when none matched', labelNames: ['upstream', 'code'], registers: [registry] })

  /**
   * A per-upstream metric whose values are read from status() at scrape time:
   * a gauge for state, a counter for the limiter's own monotonic counts.
   */
  const fromStatus = (name: string, help: string, read: (upstream: MeteredUpstream) => number | undefined, Kind: typeof Gauge | typeof Counter = Gauge): void => {
    // eslint-disable-next-line no-new -- prom-client registers the metric itself
    new Kind({
      name,
      help,
      labelNames: ['upstream'],
      registers: [registry],
      collect (this: Gauge | Counter) {
        this.reset()
        for (const upstream of watched) {
          const value = read(upstream)
          if (value === undefined || !Number.isFinite(value)) continue
          if (this instanceof Gauge) this.set({ upstream: upstream.name }, value)
          else this.inc({ upstream: upstream.name }, value)
        }
      }
    })
  }
  fromStatus('tollgate_token_expiry_timestamp_seconds', 'When the current token expires (unix seconds); absent without a token', (u) => seconds(u.credentials.status().expiresAt))
  fromStatus('tollgate_token_refreshed_timestamp_seconds', 'When a token was last fetched (unix seconds)', (u) => seconds(u.credentials.status().lastRefreshAt))
  fromStatus('tollgate_limiter_queue_depth', 'Requests waiting for a rate-limit slot', (u) => u.limiter.status().queued)
  fromStatus('tollgate_limiter_running', 'Requests holding a concurrency slot', (u) => u.limiter.status().running)
  fromStatus('tollgate_limiter_remaining', 'Starts still allowed in the current sliding window', (u) => u.limiter.status().remaining)
  fromStatus('tollgate_limiter_limit', 'Starts allowed per sliding window: with a shared store the limit in force across replicas (the strictest any live replica uses), else the upstream\'s rateLimit.requests; absent without rateLimit', (u) => limits(u)?.requests)
  fromStatus('tollgate_limiter_window_seconds', 'Length of the sliding window tollgate_limiter_limit applies to (seconds); absent without rateLimit', (u) => seconds(limits(u)?.windowMs))
  fromStatus('tollgate_limiter_fallback_share', 'While the shared store is lost: the starts per window this replica may make, its share of the limit; absent otherwise', (u) => u.limiter.status().fallbackShare)
  fromStatus('tollgate_upstream_paused_until_timestamp_seconds', 'End of the pause a 429 or retry-after imposed (unix seconds); absent when not paused', (u) => seconds(u.limiter.status().pausedUntil))
  // Counters kept by the limiter itself, exposed as counters (monotonic) at scrape time.
  fromStatus('tollgate_limiter_waits_total', 'Requests that had to wait for a slot', (u) => u.limiter.status().counters.waited, Counter)
  fromStatus('tollgate_upstream_pauses_total', 'Times an upstream was paused (or its pause extended) by a 429 or retry-after', (u) => u.limiter.status().counters.pauses, Counter)
  fromStatus('tollgate_upstream_429_total', 'Responses from the upstream that asked tollgate to wait (429, or 503 with retry-after)', (u) => u.limiter.status().counters.observed429, Counter)

  // eslint-disable-next-line no-new -- prom-client registers the metric itself
  new Gauge({
    name: 'tollgate_store_available',
    help: '1 while the shared store (Redis) is in use, 0 while tollgate runs on local state; absent with store.type memory',
    registers: [registry],
    collect () {
      this.reset()
      const status = storeStatus?.()
      if (status !== undefined && status.type !== 'memory') this.set(status.available ? 1 : 0)
    }
  })
  // eslint-disable-next-line no-new -- prom-client registers the metric itself
  new Counter({
    name: 'tollgate_store_outages_total',
    help: 'Times the shared store was declared lost: its connection dropped, or its commands failed for store.unavailableAfter without a success',
    registers: [registry],
    collect () {
      this.reset()
      const status = storeStatus?.()
      if (status !== undefined && status.type !== 'memory') this.inc(status.outages)
    }
  })

  return {
    registry,
    watch (upstreams) { watched = upstreams },
    watchStore (status) { storeStatus = status },
    problem (upstream, code) { problems.inc({ upstream: upstream ?? '', code }) },
    meter (name) {
      // Counters start at zero, so an alert on their first increase sees the first event.
      for (const outcome of ['ok', 'failed']) tokenFetches.labels(name, outcome).inc(0)
      for (const reason of ['queue_full', 'queue_timeout', 'paused', 'shutting_down']) rejections.labels(name, reason).inc(0)
      for (const reason of ['401', '429']) retries.labels(name, reason).inc(0)
      // Both series exist (at zero) from startup; bound once, so observe() builds no label object per call.
      for (const phase of ['sidecar', 'upstream']) duration.zero({ upstream: name, phase })
      const sidecar = duration.labels({ upstream: name, phase: 'sidecar' })
      const upstream = duration.labels({ upstream: name, phase: 'upstream' })
      const counts = new Float64Array(METHODS.length * STATUS_CLASSES.length)
      answered.set(name, counts)
      return {
        request (method, status, sidecarMs, upstreamMs) {
          lag.busy()
          const statusClass = status >= 100 && status < 600 ? Math.floor(status / 100) - 1 : STATUS_CLASSES.length - 1
          const slot = (METHOD_INDEX.get(method) ?? OTHER_METHOD) * STATUS_CLASSES.length + statusClass
          counts[slot] = (counts[slot] as number) + 1
          // prom-client throws on a value that is not a finite number.
          if (Number.isFinite(sidecarMs)) sidecar.observe(sidecarMs / 1000)
          if (upstreamMs !== undefined && Number.isFinite(upstreamMs)) upstream.observe(upstreamMs / 1000)
        },
        retry (reason) { retries.inc({ upstream: name, reason }) },
        rejected (reason) { rejections.inc({ upstream: name, reason }) },
        tokenFetch (outcome) { tokenFetches.inc({ upstream: name, outcome }) }
      }
    }
  }
}

function seconds (epochMs: number | undefined): number | undefined {
  return epochMs === undefined ? undefined : epochMs / 1000
}

/** The window in force: a shared store's (across replicas) when there is one, else the upstream's own; undefined without rateLimit. */
function limits (upstream: MeteredUpstream): { readonly requests: number, readonly windowMs: number } | undefined {
  const status = upstream.limiter.status()
  const { requests, windowMs } = status.shared ?? status
  return Number.isFinite(requests) ? { requests, windowMs } : undefined
}
