/**
 * OpenTelemetry tracing, as the rest of tollgate sees it: a few interfaces
 * and `openTracing`, which loads the OpenTelemetry SDK (otel.ts) with a
 * dynamic import() only when an endpoint is configured. With tracing off
 * tollgate loads no `@opentelemetry/*` module (prom-client alone requires the
 * no-op @opentelemetry/api, for its exemplars), and the request path pays one
 * null check where a span would be made (habit H2: features that are off cost
 * nothing; test/cli/tracing-off-module-graph.test.ts checks the module graph).
 *
 * What is traced (docs/tracing.md), by the stable HTTP semantic conventions:
 *
 *   SERVER  one per app request (probes and /metrics, /status aside), continuing the app's traceparent
 *   CLIENT  one per attempt to the vendor, its traceparent sent on (http.request.resend_count on a retry)
 *   CLIENT  one per token fetch: a child of the request that started it, a root span for a
 *           background refresh; every other request that waited for it links to it
 *   event   tollgate.limiter.wait on the SERVER span, with its duration
 *
 * No attribute ever holds a header value, a token, a secret or an assertion:
 * only methods, status codes, URLs (every query value REDACTED, as the debug
 * log writes them), upstream names, TG_* codes and durations.
 */
import type { TelemetryConfig } from '../config/types.js'
import { tracesUrl } from '../config/telemetry.js'

/** What the SERVER span is started from: the app's request as Fastify holds it. */
export interface InboundRequest {
  readonly id: string
  readonly method: string
  readonly url: string
  readonly headers: Readonly<Record<string, string | string[] | undefined>>
  readonly raw: { readonly httpVersion: string, readonly socket: { readonly remoteAddress?: string | undefined, readonly remotePort?: number | undefined } | null }
}

export interface Tracing {
  /** A SERVER span for one app request. */
  serverSpan (request: InboundRequest): ServerSpan
  /** Token fetches of one upstream's credential source. */
  tokenFetches (upstream: string, tokenUrl: string): TokenFetchTracer
  /** Export what has ended (tests; shutdown does it too). */
  flush (): Promise<void>
  /** Export what has ended and stop. */
  shutdown (): Promise<void>
}

/** The token cache's view of a request that asks for a credential. */
export interface TokenAsker {
  /** This request waited for a token fetch it did not start: its span links to the fetch's. */
  waitedFor (fetch: TokenFetchSpan): void
}

export interface ServerSpan extends TokenAsker {
  /** For the request's log line. */
  readonly traceId: string
  readonly spanId: string
  /** Matched to an upstream: http.route is its prefix, the span is named after it. */
  routed (upstream: string, prefix: string): void
  /**
   * A CLIENT span for one attempt to the vendor, to `origin` + `path` with
   * the query of `appUrl`, the app's request target (its values REDACTED in
   * `url.full`, built only when the span is sampled); `resendCount` 0 for the
   * first attempt.
   */
  attempt (method: string, origin: string, path: string, appUrl: string, resendCount: number): AttemptSpan
  /** The limiter held the request from `startedAt` (performance.now()) for `ms`; `outcome`: acquired or the TG_* code. */
  limiterWait (startedAt: number, ms: number, outcome: string): void
  /** tollgate answered with a problem of its own (TG_* code). */
  problem (code: string): void
  /** The answer's status; once (later calls are ignored). `errorType` when the app went away. */
  end (statusCode: number, errorType?: string): void
}

export interface AttemptSpan {
  /** The W3C `traceparent` this attempt sends: this span as the vendor's parent. */
  readonly traceparent: string
  /** Response headers arrived. Ends the span (once). */
  answered (statusCode: number): void
  /** No answer: `errorType` is the TG_* code (or the error's name). Ends the span (once). */
  failed (errorType: string): void
}

export interface TokenFetchTracer {
  /** A fetch begins: a child of `starter`'s span, or a root span (a background refresh). */
  start (starter: TokenAsker | undefined): TokenFetchSpan
}

export interface TokenFetchSpan {
  /** The W3C `traceparent` the token request sends. */
  readonly traceparent: string
  /** The token endpoint's status code. */
  status (statusCode: number): void
  /** Ends the span; `failure` (a TokenFailureReason) when no token came of it. */
  end (failure?: string): void
}

export interface TracingDeps {
  /** tollgate's version, read only when tracing is on (a bench build has no package.json beside it). */
  readonly version: () => string
  /** Export failures are logged here (at most once a minute). */
  readonly log: { warn (obj: object, msg: string): void, info (obj: object, msg: string): void }
}

/**
 * Tracing for `telemetry`, or undefined when it names no endpoint (tracing
 * off). The SDK is imported here and only here.
 */
export async function openTracing (telemetry: TelemetryConfig | undefined, deps: TracingDeps): Promise<Tracing | undefined> {
  const url = tracesUrl(telemetry)
  if (telemetry === undefined || url === undefined) return undefined
  const { createTracing } = await import('./otel.js')
  return await createTracing(telemetry, url, deps)
}
