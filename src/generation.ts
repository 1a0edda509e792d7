/**
 * One config generation: a Fastify app with its routes, hooks and limits,
 * built on the listener's server (serverFactory hands that server back) and
 * made ready before it takes any request. The listener's RequestSwitch
 * (request-switch.ts) sends new requests to the newest generation; an older
 * one finishes what it took and is closed (server.ts). Fastify refuses
 * routes added after `listen`, which is why a reload builds a whole app.
 */
import { randomUUID } from 'node:crypto'
import type { Server } from 'node:http'
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import type { Interpolated } from './config/load.js'
import type { Config } from './config/types.js'
import { AbsoluteFormRefused, BadRequest, ShuttingDown } from './errors.js'
import { isProbe, registerHealth, type Lifecycle } from './ops/health.js'
import { installInboundAccess } from './ops/inbound-access.js'
import type { Metrics } from './ops/metrics.js'
import { registerOpsEndpoints, type OpsView } from './ops/status.js'
import { clientErrorHandler, frameworkErrors, installProblemHandlers, type ProblemCounter } from './problem.js'
import { validRequestId } from './proxy/headers.js'
import type { UpstreamRuntime } from './proxy/runtime.js'
import upstreamPlugin from './proxy/upstream-plugin.js'
import type { RequestHandler } from './request-switch.js'
import { RESERVED_PATHS } from './config/defaults.js'
import type { ServerSpan, Tracing } from './telemetry/tracing.js'
import './proxy/exchange.js'

export interface GenerationDeps {
  /** The listener's server: every generation answers on it. */
  readonly server: Server
  readonly logger: Logger
  readonly fastifyLogger: FastifyBaseLogger
  readonly metrics: Metrics
  readonly lifecycle: Lifecycle
  /** /metrics and /status, when they are on the app-facing listener (no server.adminPort). */
  readonly ops: OpsView | undefined
  /** OpenTelemetry tracing; undefined when off. */
  readonly tracing?: Tracing | undefined
}

export interface Generation {
  readonly app: FastifyInstance
  /** What the listener's switch calls for each request this generation takes. */
  readonly handler: RequestHandler
  readonly config: Config
  readonly upstreams: readonly UpstreamRuntime[]
  /** Where the config's `${...}` values sit, for its hash in /status. */
  readonly interpolated: Interpolated | undefined
}

export async function buildGeneration (config: Config, upstreams: readonly UpstreamRuntime[], interpolated: Interpolated | undefined, deps: GenerationDeps): Promise<Generation> {
  const { logger, lifecycle, tracing } = deps
  let handler: RequestHandler | undefined
  const app = Fastify({
    serverFactory: (fastifyHandler) => {
      handler = fastifyHandler
      return deps.server
    },
    loggerInstance: deps.fastifyLogger,
    // Our own one line per request replaces Fastify's two (logRequest below).
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: 'requestId' }),
    // The app's x-request-id when sane, else a fresh one; forwarded upstream and in every log line.
    genReqId: (req) => validRequestId(req.headers['x-request-id']) ?? randomUUID(),
    // A retired generation is closed while the listener keeps serving: it must not answer 503 meanwhile.
    return503OnClosing: false,
    bodyLimit: config.server.bodyLimit,
    frameworkErrors,
    clientErrorHandler
  })
  // The listener answers bad requests already (server.ts): one answer each, not one per generation.
  const added = deps.server.listeners('clientError').at(-1)
  if (added !== undefined) deps.server.removeListener('clientError', added as (...args: unknown[]) => void)
  app.decorateRequest('tollgate', null)
  app.decorateRequest('serverSpan', null)
  // Traced: the problem's TG_* code goes on the request's span too (its error.type when it is a 5xx).
  installProblemHandlers(app, tracing === undefined ? deps.metrics.problem : problemOnSpan(deps.metrics.problem))

  // Callback-style hooks: an async hook costs a promise per request.
  app.addHook('onRequest', function gate (request, reply, done) {
    // Off: this one check. On: a SERVER span for every request but tollgate's own endpoints.
    if (tracing !== undefined && !isOwnEndpoint(request.url)) request.serverSpan = tracing.serverSpan(request)
    // Origin-form only (RFC 9112 §3.2.1): absolute-form would make tollgate an open proxy.
    const target = request.raw.url ?? ''
    if (target[0] !== '/') return done(new AbsoluteFormRefused())
    // A fragment is never part of a request target (RFC 9110 §4.2.1); URL parsers would cut the path at it.
    if (target.includes('#')) return done(new BadRequest('the request target holds a fragment (#)'))
    if (hasDuplicateHost(request.raw.rawHeaders)) return done(new BadRequest('more than one Host header (RFC 9112 §3.2)'))
    if (lifecycle.draining && !isProbe(request.url)) {
      reply.header('connection', 'close')
      return done(new ShuttingDown())
    }
    done()
  })
  installInboundAccess(app, config.server)

  // One onResponse hook per request does both: the log line and the upstream's metrics.
  app.addHook('onResponse', function logRequest (request, reply, done) {
    const context = request.tollgate
    const elapsed = reply.elapsedTime
    const status = reply.statusCode
    const span = request.serverSpan
    if (span !== null) span.end(status)
    if (context !== null) context.meter.request(request.method, status, context.sidecarMs ?? elapsed, context.attempts > 0 ? context.upstreamMs : undefined)
    // Successful answers tollgate gives itself (probes, /metrics) are debug; everything else info.
    const level = context === null && status < 400 ? 'debug' : 'info'
    if (logger.isLevelEnabled(level)) {
      const query = request.url.indexOf('?')
      // On the root logger with the request id as a field: the same line as through request.log, without making its child.
      const line = {
        requestId: request.id,
        upstream: context?.upstream,
        method: request.method,
        // The path only: the query string may carry personal data.
        path: query === -1 ? request.url : request.url.slice(0, query),
        status,
        durationMs: Math.round(elapsed * 100) / 100,
        attempts: context?.attempts,
        waitedMs: context === null ? undefined : Math.round(context.waitedMs)
      }
      // Traced: the line names its trace and span, so a log search leads to the trace and back.
      logger[level](span === null ? line : { ...line, traceId: span.traceId, spanId: span.spanId }, 'request completed')
    }
    done()
  })

  registerHealth(app, lifecycle)
  if (deps.ops !== undefined) registerOpsEndpoints(app, deps.ops)
  for (const runtime of upstreams) await app.register(upstreamPlugin, { runtime })
  await app.ready()
  return { app, handler: handler as RequestHandler, config, upstreams, interpolated }
}

function problemOnSpan (count: ProblemCounter): ProblemCounter {
  return (upstream, code, request) => {
    count(upstream, code)
    request?.serverSpan?.problem(code)
  }
}

/** /healthz, /readyz, /metrics, /status (a query string or not): polled by machines, never traced. */
function isOwnEndpoint (url: string): boolean {
  const query = url.indexOf('?')
  return RESERVED_PATHS.includes(query === -1 ? url : url.slice(0, query))
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The request's SERVER span while tracing is on (telemetry/tracing.ts); null when off. */
    serverSpan: ServerSpan | null
  }
}

/** Two Host headers make a request ambiguous between hops (smuggling); Node would keep the first silently. */
function hasDuplicateHost (rawHeaders: readonly string[]): boolean {
  let hosts = 0
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i] as string
    if (name.length === 4 && name.toLowerCase() === 'host' && ++hosts > 1) return true
  }
  return false
}
