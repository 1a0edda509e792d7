/**
 * The OpenTelemetry side of tracing.ts: the SDK's tracer provider, a batch
 * span processor and the OTLP/HTTP exporter the config asks for
 * (http/protobuf or http/json). Loaded only when tracing is on
 * (tracing.ts, dynamic import).
 *
 * No global is registered (no context manager, no global provider or
 * propagator): every span gets its parent explicitly, so nothing in the
 * process pays for AsyncLocalStorage, and a library that looks for a global
 * tracer finds none. The app's `traceparent` is read with the W3C Trace
 * Context propagator; ours are written from the span's own context.
 *
 * @see https://opentelemetry.io/docs/specs/semconv/http/http-spans/ (names, kinds, attributes, status)
 * @see https://www.w3.org/TR/trace-context/#traceparent-header
 */
import { defaultTextMapGetter, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Attributes, type Context, type Span, type Tracer } from '@opentelemetry/api'
import { setGlobalErrorHandler, W3CTraceContextPropagator } from '@opentelemetry/core'
import { defaultResource, resourceFromAttributes } from '@opentelemetry/resources'
import { AlwaysOffSampler, AlwaysOnSampler, BasicTracerProvider, BatchSpanProcessor, ParentBasedSampler, TraceIdRatioBasedSampler, type Sampler, type SpanExporter } from '@opentelemetry/sdk-trace-base'
import {
  ATTR_CLIENT_ADDRESS, ATTR_ERROR_TYPE, ATTR_HTTP_REQUEST_METHOD, ATTR_HTTP_REQUEST_METHOD_ORIGINAL, ATTR_HTTP_REQUEST_RESEND_COUNT,
  ATTR_HTTP_RESPONSE_STATUS_CODE, ATTR_HTTP_ROUTE, ATTR_SERVER_ADDRESS, ATTR_SERVER_PORT, ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION,
  ATTR_URL_FULL, ATTR_URL_QUERY, ATTR_USER_AGENT_ORIGINAL
} from '@opentelemetry/semantic-conventions'
import type { TelemetryConfig, TraceSampler } from '../config/types.js'
import { loggableUrl, outgoingUrl, redactQuery } from '../logger.js'
import type { AttemptSpan, InboundRequest, ServerSpan, TokenFetchSpan, TokenFetchTracer, Tracing, TracingDeps } from './tracing.js'

/** The methods the HTTP conventions know; any other is `_OTHER` with the original kept. */
const KNOWN_METHODS = new Set(['CONNECT', 'DELETE', 'GET', 'HEAD', 'OPTIONS', 'PATCH', 'POST', 'PUT', 'QUERY', 'TRACE'])
/** tollgate's own attributes. */
const ATTR_UPSTREAM = 'tollgate.upstream'
const ATTR_PROBLEM = 'tollgate.problem'
const ATTR_TOKEN_TRIGGER = 'tollgate.token.trigger'
const EVENT_LIMITER_WAIT = 'tollgate.limiter.wait'
/** Spans serialized and sent in one export (the SDK's default is 512). */
const EXPORT_BATCH_SPANS = 64
/** An export failure is logged at most this often (a collector that is down would fill the log). */
const EXPORT_WARN_EVERY_MS = 60_000

export async function createTracing (telemetry: TelemetryConfig, url: string, deps: TracingDeps): Promise<Tracing> {
  const exporter = await createExporter(telemetry, url)
  const version = versionOf(deps)
  const resource = defaultResource().merge(resourceFromAttributes({
    ...telemetry.resourceAttributes,
    [ATTR_SERVICE_NAME]: telemetry.serviceName,
    [ATTR_SERVICE_VERSION]: version
  }))
  // BatchSpanProcessor reads the standard OTEL_BSP_* variables (queue size, delay, batch size), but a batch
  // is serialized in one go on the event loop: 512 spans (the SDK's default) held every request behind them
  // for milliseconds, so tollgate exports at most EXPORT_BATCH_SPANS at a time unless the variable says otherwise.
  const batch = process.env.OTEL_BSP_MAX_EXPORT_BATCH_SIZE === undefined ? { maxExportBatchSize: EXPORT_BATCH_SPANS } : {}
  const provider = new BasicTracerProvider({ resource, sampler: createSampler(telemetry.sampler, telemetry.samplerArg ?? 1), spanProcessors: [new BatchSpanProcessor(exporter, batch)] })
  const tracer = provider.getTracer('tollgate', version)
  warnOnExportFailures(deps.log)
  deps.log.info({ endpoint: loggableUrl(url), protocol: telemetry.protocol, sampler: telemetry.sampler, serviceName: telemetry.serviceName }, 'tracing on')
  const propagator = new W3CTraceContextPropagator()
  const origins = new Map<string, Origin>()
  return {
    serverSpan: (request) => new Server(tracer, request, propagator.extract(ROOT_CONTEXT, request.headers, defaultTextMapGetter), origins),
    tokenFetches: (upstream, tokenUrl) => tokenTracer(tracer, upstream, tokenUrl),
    flush: async () => { await provider.forceFlush() },
    shutdown: async () => { await provider.shutdown() }
  }
}

function versionOf (deps: TracingDeps): string {
  try {
    return deps.version()
  } catch {
    return 'unknown'
  }
}

async function createExporter (telemetry: TelemetryConfig, url: string): Promise<SpanExporter> {
  // Our headers already hold OTEL_EXPORTER_OTLP_HEADERS (config/telemetry.ts); the exporter merges the variable again, to the same values.
  const options = { url, headers: { ...telemetry.headers } }
  if (telemetry.protocol === 'http/json') {
    const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-http')
    return new OTLPTraceExporter(options)
  }
  const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-proto')
  return new OTLPTraceExporter(options)
}

/** OTEL_TRACES_SAMPLER's values, as the SDK specification defines them. */
function createSampler (name: TraceSampler, ratio: number): Sampler {
  switch (name) {
    case 'always_on': return new AlwaysOnSampler()
    case 'always_off': return new AlwaysOffSampler()
    case 'traceidratio': return new TraceIdRatioBasedSampler(ratio)
    case 'parentbased_always_on': return new ParentBasedSampler({ root: new AlwaysOnSampler() })
    case 'parentbased_always_off': return new ParentBasedSampler({ root: new AlwaysOffSampler() })
    case 'parentbased_traceidratio': return new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(ratio) })
  }
}

/** The SDK reports a failed export to its global error handler: one warning a minute, with how many were left out. */
function warnOnExportFailures (log: TracingDeps['log']): void {
  let lastAt = -Infinity
  let missed = 0
  setGlobalErrorHandler((err) => {
    const now = performance.now()
    if (now - lastAt < EXPORT_WARN_EVERY_MS) {
      missed++
      return
    }
    lastAt = now
    // The message only: an error object could carry the request it was made for.
    const reason = err instanceof Error ? err.message : String(err)
    log.warn({ reason: reason.slice(0, 200), ...(missed > 0 ? { alsoFailed: missed } : {}) }, 'trace export failed')
    missed = 0
  })
}

/** `00-<trace-id>-<span-id>-<flags>` for a span (W3C Trace Context §3.2). */
function traceparentOf (span: Span): string {
  const { traceId, spanId, traceFlags } = span.spanContext()
  return `00-${traceId}-${spanId}-${traceFlags & 1 ? '01' : '00'}`
}

function methodAttributes (method: string, attributes: Attributes): void {
  if (KNOWN_METHODS.has(method)) {
    attributes[ATTR_HTTP_REQUEST_METHOD] = method
  } else {
    attributes[ATTR_HTTP_REQUEST_METHOD] = '_OTHER'
    attributes[ATTR_HTTP_REQUEST_METHOD_ORIGINAL] = method
  }
}

interface Origin { readonly address: string, readonly port: number }

/** server.address and server.port of an origin (`http://host:port`), parsed once per origin. */
function originOf (origin: string, cache: Map<string, Origin>): Origin {
  let parsed = cache.get(origin)
  if (parsed === undefined) {
    const url = new URL(origin)
    parsed = { address: url.hostname.replace(/^\[(.*)\]$/, '$1'), port: url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port) }
    cache.set(origin, parsed)
  }
  return parsed
}

function spanName (method: string, target?: string): string {
  const name = KNOWN_METHODS.has(method) ? method : 'HTTP'
  return target === undefined ? name : `${name} ${target}`
}

/**
 * The SERVER span's attributes: the conventions' required and conditionally
 * required ones, and of the recommended ones client.address and
 * user_agent.original (network.peer.* would repeat client.address on a
 * sidecar's loopback; network.protocol.version is 1.1).
 */
function serverAttributes (request: InboundRequest): Attributes {
  const url = request.url
  const query = url.indexOf('?')
  const attributes: Attributes = { 'url.scheme': 'http', 'url.path': query === -1 ? url : url.slice(0, query) }
  methodAttributes(request.method, attributes)
  // Names kept, every value REDACTED: queries carry patient data (the debug log's rule).
  if (query !== -1) attributes[ATTR_URL_QUERY] = redactQuery(url.slice(query + 1))
  const host = request.headers.host
  if (typeof host === 'string') {
    const colon = host.lastIndexOf(':')
    const bracket = host.lastIndexOf(']')
    if (colon > bracket) {
      attributes[ATTR_SERVER_ADDRESS] = host.slice(0, colon).replace(/^\[(.*)\]$/, '$1')
      const port = Number(host.slice(colon + 1))
      if (Number.isInteger(port)) attributes[ATTR_SERVER_PORT] = port
    } else {
      attributes[ATTR_SERVER_ADDRESS] = host.replace(/^\[(.*)\]$/, '$1')
    }
  }
  const address = request.raw.socket?.remoteAddress
  if (address !== undefined) attributes[ATTR_CLIENT_ADDRESS] = address
  const agent = request.headers['user-agent']
  if (typeof agent === 'string') attributes[ATTR_USER_AGENT_ORIGINAL] = agent
  return attributes
}

class Server implements ServerSpan {
  readonly traceId: string
  readonly spanId: string
  readonly #span: Span
  readonly #context: Context
  readonly #tracer: Tracer
  readonly #origins: Map<string, Origin>
  readonly #method: string
  #problem: string | undefined = undefined
  #ended = false

  constructor (tracer: Tracer, request: InboundRequest, parent: Context, origins: Map<string, Origin>) {
    this.#tracer = tracer
    this.#origins = origins
    this.#method = request.method
    // Started bare, attributed only when sampled: the samplers tollgate offers decide on the
    // trace id and the parent alone, and a request left out (always_off, a ratio) then pays
    // for none of the work below.
    this.#span = tracer.startSpan(spanName(request.method), { kind: SpanKind.SERVER }, parent)
    this.#context = trace.setSpan(parent, this.#span)
    const context = this.#span.spanContext()
    this.traceId = context.traceId
    this.spanId = context.spanId
    if (this.#span.isRecording()) this.#span.setAttributes(serverAttributes(request))
  }

  /** Where children of this request's span are made. */
  get context (): Context {
    return this.#context
  }

  routed (upstream: string, prefix: string): void {
    if (!this.#span.isRecording()) return
    const route = prefix === '/' ? '/*' : `${prefix}/*`
    this.#span.setAttributes({ [ATTR_UPSTREAM]: upstream, [ATTR_HTTP_ROUTE]: route })
    this.#span.updateName(spanName(this.#method, route))
  }

  attempt (method: string, origin: string, path: string, appUrl: string, resendCount: number): AttemptSpan {
    const span = this.#tracer.startSpan(spanName(method), { kind: SpanKind.CLIENT }, this.#context)
    if (span.isRecording()) {
      const { address, port } = originOf(origin, this.#origins)
      // The app's query, every value REDACTED (the debug log's rule).
      const attributes: Attributes = { 'server.address': address, 'server.port': port, 'url.full': outgoingUrl(origin, path, appUrl) }
      methodAttributes(method, attributes)
      // Recommended on every resend: a 401 answered with a fresh token, a 429 after its pause.
      if (resendCount > 0) attributes[ATTR_HTTP_REQUEST_RESEND_COUNT] = resendCount
      span.setAttributes(attributes)
    }
    return new Attempt(span)
  }

  limiterWait (startedAt: number, ms: number, outcome: string): void {
    this.#span.addEvent(EVENT_LIMITER_WAIT, { 'tollgate.limiter.wait_ms': Math.round(ms * 1000) / 1000, 'tollgate.limiter.outcome': outcome }, startedAt)
  }

  waitedFor (fetch: TokenFetchSpan): void {
    if (fetch instanceof TokenFetch) this.#span.addLink({ context: fetch.span.spanContext(), attributes: { 'tollgate.link': 'waited for token fetch' } })
  }

  problem (code: string): void {
    this.#problem = code
  }

  end (statusCode: number, errorType?: string): void {
    if (this.#ended) return
    this.#ended = true
    const span = this.#span
    span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, statusCode)
    if (this.#problem !== undefined) span.setAttribute(ATTR_PROBLEM, this.#problem)
    // A SERVER span's 4xx is the client's doing: status left unset (HTTP span status rules).
    if (statusCode >= 500 || errorType !== undefined) {
      span.setAttribute(ATTR_ERROR_TYPE, errorType ?? this.#problem ?? String(statusCode))
      if (statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR })
    }
    span.end()
  }
}

class Attempt implements AttemptSpan {
  readonly traceparent: string
  readonly #span: Span
  #ended = false

  constructor (span: Span) {
    this.#span = span
    this.traceparent = traceparentOf(span)
  }

  answered (statusCode: number): void {
    if (this.#ended) return
    this.#ended = true
    this.#span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, statusCode)
    // A CLIENT span's 4xx is an error too (HTTP span status rules).
    if (statusCode >= 400) {
      this.#span.setAttribute(ATTR_ERROR_TYPE, String(statusCode))
      this.#span.setStatus({ code: SpanStatusCode.ERROR })
    }
    this.#span.end()
  }

  failed (errorType: string): void {
    if (this.#ended) return
    this.#ended = true
    this.#span.setAttribute(ATTR_ERROR_TYPE, errorType)
    this.#span.setStatus({ code: SpanStatusCode.ERROR })
    this.#span.end()
  }
}

function tokenTracer (tracer: Tracer, upstream: string, tokenUrl: string): TokenFetchTracer {
  const { address, port } = originOf(new URL(tokenUrl).origin, new Map())
  const attributes: Attributes = {
    [ATTR_HTTP_REQUEST_METHOD]: 'POST',
    // The token URL carries no query or credentials (the config refuses them); loggableUrl strips them anyway.
    [ATTR_URL_FULL]: loggableUrl(tokenUrl),
    [ATTR_SERVER_ADDRESS]: address,
    [ATTR_SERVER_PORT]: port,
    [ATTR_UPSTREAM]: upstream
  }
  return {
    start (starter) {
      const parent = starter instanceof Server ? starter.context : ROOT_CONTEXT
      const span = tracer.startSpan('POST', { kind: SpanKind.CLIENT, attributes: { ...attributes, [ATTR_TOKEN_TRIGGER]: starter === undefined ? 'refresh' : 'request' } }, parent)
      return new TokenFetch(span)
    }
  }
}

class TokenFetch implements TokenFetchSpan {
  readonly span: Span
  readonly traceparent: string
  #status: number | undefined = undefined
  #ended = false

  constructor (span: Span) {
    this.span = span
    this.traceparent = traceparentOf(span)
  }

  status (statusCode: number): void {
    this.#status = statusCode
    this.span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, statusCode)
  }

  end (failure?: string): void {
    if (this.#ended) return
    this.#ended = true
    if (failure !== undefined) {
      // An answer with an error status is named by it; else the failure's class (timeout, network, answer, assertion).
      this.span.setAttribute(ATTR_ERROR_TYPE, this.#status !== undefined && this.#status >= 400 ? String(this.#status) : failure)
      this.span.setStatus({ code: SpanStatusCode.ERROR })
    }
    this.span.end()
  }
}
