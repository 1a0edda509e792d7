/**
 * buildServer(config) → the sidecar as a Fastify instance, not yet listening
 * (fastify Testing guide): one upstream plugin per configured upstream, the
 * ops endpoints, problem+json errors, one log line per request.
 */
import { randomUUID } from 'node:crypto'
import type { Socket } from 'node:net'
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify'
import type { DestinationStream, Logger } from 'pino'
import type { AuthConfig, Config, UpstreamConfig } from './config/types.js'
import { AbsoluteFormRefused, BadRequest, ShuttingDown } from './errors.js'
import { openLogger, withLazyRequestLoggers } from './logger.js'
import { isProbe, registerHealth, type Lifecycle } from './ops/health.js'
import { installInboundAccess } from './ops/inbound-access.js'
import { clientErrorHandler, frameworkErrors, installProblemHandlers } from './problem.js'
import { createUpstreamDispatchers } from './egress/dispatcher.js'
import { validRequestId } from './proxy/headers.js'
import upstreamPlugin from './proxy/upstream-plugin.js'
import type { UpstreamRuntime } from './proxy/runtime.js'
import { createMetrics } from './ops/metrics.js'
import { registerOpsEndpoints } from './ops/status.js'
import { openStore, type Store } from './store/index.js'
import { rotateCredentials, type RotationOutcome } from './ops/secret-rotation.js'
import type { CredentialSource } from './auth/source.js'
import { tokenRequestHeaders } from './auth/index.js'
import { RequestSwitch, type RequestHandler } from './request-switch.js'
import './proxy/exchange.js'

export interface ServerDeps {
  /** Where log lines go (tests pass a sink); stdout by default. */
  readonly logStream?: DestinationStream
  /** Where HTTPS_PROXY / HTTP_PROXY / NO_PROXY and TOLLGATE_LOG_LEVEL / TOLLGATE_LOG_FORMAT are read, once, at startup; process.env by default. */
  readonly env?: NodeJS.ProcessEnv
  /**
   * Build on the server of a running sidecar instead of a new one: this
   * sidecar answers nothing until `switch.use(sidecar.handler)` (a config
   * change without a restart).
   */
  readonly switch?: RequestSwitch
}

export interface Sidecar {
  readonly app: FastifyInstance
  /** The admin listener (/metrics, /status, probes) when server.adminPort is set. */
  readonly admin: FastifyInstance | undefined
  readonly config: Config
  readonly upstreams: readonly UpstreamRuntime[]
  readonly lifecycle: Lifecycle
  readonly logger: Logger
  readonly store: Store
  /** The app-facing server's handler switch, shared with any sidecar built on it. */
  readonly switch: RequestSwitch
  /** This sidecar's request handler, to hand to `switch.use`. */
  readonly handler: RequestHandler
  /**
   * Take up a re-read config whose secrets changed: upstreams whose `auth`
   * differs get a new credential source (and the old token is forgotten);
   * anything else that differs needs a restart and is only reported.
   */
  rotate (next: Config): RotationOutcome
}

export async function buildServer (config: Config, deps: ServerDeps = {}): Promise<Sidecar> {
  const redacting = await openLogger({ ...config.log, secrets: config.secrets, stream: deps.logStream, env: deps.env ?? process.env })
  const logger = redacting.logger
  const fastifyLogger = withLazyRequestLoggers(logger) as FastifyBaseLogger
  const lifecycle: Lifecycle = { draining: false }
  let requestSwitch = deps.switch
  let handler: RequestHandler | undefined

  const app = Fastify({
    // The server outlives a config: later sidecars are built on it and switched in (request-switch.ts).
    serverFactory: (fastifyHandler, options) => {
      handler = fastifyHandler
      requestSwitch ??= new RequestSwitch(fastifyHandler, options)
      return requestSwitch.server
    },
    loggerInstance: fastifyLogger,
    // Our own one line per request replaces Fastify's two (logRequest below).
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: 'requestId' }),
    // The app's x-request-id when sane, else a fresh one; forwarded upstream and in every log line.
    genReqId: (req) => validRequestId(req.headers['x-request-id']) ?? randomUUID(),
    return503OnClosing: false,
    forceCloseConnections: 'idle',
    // Slow clients (slowloris): the headers must arrive within headersTimeout and the whole
    // request, body included, within bodyTimeout, else 408 and the socket is closed. Node checks
    // both on a timer, every 30 s by default: far too coarse for a 10 s limit.
    requestTimeout: config.server.bodyTimeoutMs,
    http: { connectionsCheckingInterval: checkingInterval(config.server.headersTimeoutMs) },
    bodyLimit: config.server.bodyLimit,
    frameworkErrors,
    clientErrorHandler
  })
  const sharedServer = deps.switch !== undefined
  app.server.headersTimeout = config.server.headersTimeoutMs
  app.decorateRequest('tollgate', null)
  const metrics = createMetrics()
  installProblemHandlers(app, metrics.problem)

  // CONNECT never reaches Fastify; answer it here rather than let Node drop the socket silently.
  if (sharedServer) {
    // The server's first sidecar answers bad requests and CONNECT already: one answer each, not one per sidecar built on it.
    const added = app.server.listeners('clientError').at(-1)
    if (added !== undefined) app.server.removeListener('clientError', added as (...args: unknown[]) => void)
  } else {
    app.server.on('connect', (_req, socket: Socket) => {
      const body = JSON.stringify({ type: 'urn:tollgate:problem:TG_ABSOLUTE_FORM', title: 'Bad Request', status: 400, detail: new AbsoluteFormRefused().message, code: 'TG_ABSOLUTE_FORM' })
      socket.end(`HTTP/1.1 400 Bad Request\r\ncontent-type: application/problem+json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`)
    })
  }

  // Callback-style hooks: an async hook costs a promise per request.
  app.addHook('onRequest', function gate (request, reply, done) {
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
    if (context !== null) context.meter.request(request.method, status, context.sidecarMs ?? elapsed, context.attempts > 0 ? context.upstreamMs : undefined)
    // Successful answers tollgate gives itself (probes, /metrics) are debug; everything else info.
    const level = context === null && status < 400 ? 'debug' : 'info'
    if (logger.isLevelEnabled(level)) {
      const query = request.url.indexOf('?')
      // On the root logger with the request id as a field: the same line as through request.log, without making its child.
      logger[level]({
        requestId: request.id,
        upstream: context?.upstream,
        method: request.method,
        // The path only: the query string may carry personal data.
        path: query === -1 ? request.url : request.url.slice(0, query),
        status,
        durationMs: Math.round(elapsed * 100) / 100,
        attempts: context?.attempts,
        waitedMs: context === null ? undefined : Math.round(context.waitedMs)
      }, 'request completed')
    }
    done()
  })

  registerHealth(app, lifecycle)

  // Where limiter and token state live (memory or Redis); with store.onUnavailable: fail, an unreachable Redis stops startup here.
  const store = await openStore(config.store, { log: logger.child({ component: 'store' }) })
  // Per upstream, how to make its credential source: at startup, and again when a secret rotates.
  const credentialFactories = new Map<string, (upstream: UpstreamConfig) => CredentialSource>()
  const upstreams = config.upstreams.map((upstream): UpstreamRuntime => {
    const log = logger.child({ upstream: upstream.name })
    const meter = metrics.meter(upstream.name)
    const { api, token: tokenDispatcher } = createUpstreamDispatchers(upstream, { env: deps.env ?? process.env, log })
    const onFetch = (outcome: 'ok' | 'failed'): void => meter.tokenFetch(outcome)
    const makeCredentials = (current: UpstreamConfig): CredentialSource => store.createCredentialSource(current, { log, onFetch, tokenHeaders: tokenRequestHeaders(current.headers), ...(tokenDispatcher === undefined ? {} : { dispatcher: tokenDispatcher }) })
    credentialFactories.set(upstream.name, makeCredentials)
    return {
      config: upstream,
      credentials: makeCredentials(upstream),
      limiter: store.createLimiter(upstream, { log }),
      dispatcher: api,
      meter
    }
  })
  // Getters: a rotation replaces runtime.credentials, and the scrape must see the new one.
  metrics.watch(upstreams.map((runtime) => ({ name: runtime.config.name, get credentials () { return runtime.credentials }, limiter: runtime.limiter })))
  metrics.watchStore(() => store.status())
  for (const runtime of upstreams) await app.register(upstreamPlugin, { runtime })

  // /metrics and /status: on the app-facing listener, or alone on server.adminPort.
  let admin: FastifyInstance | undefined
  if (config.server.adminPort === undefined) {
    registerOpsEndpoints(app, upstreams, metrics, lifecycle)
  } else {
    admin = Fastify({
      loggerInstance: fastifyLogger,
      logController: new LogController({ disableRequestLogging: true }),
      // The same slowloris limits as the app-facing listener: it listens on the same host.
      requestTimeout: config.server.bodyTimeoutMs,
      http: { connectionsCheckingInterval: checkingInterval(config.server.headersTimeoutMs) }
    })
    admin.server.headersTimeout = config.server.headersTimeoutMs
    installProblemHandlers(admin)
    registerHealth(admin, lifecycle)
    registerOpsEndpoints(admin, upstreams, metrics, lifecycle)
    const adminApp = admin
    app.addHook('onClose', async () => { await adminApp.close() })
  }

  app.addHook('onClose', async () => {
    await Promise.all(upstreams.map(async (runtime) => {
      runtime.credentials.close()
      await runtime.limiter.close()
      // The listener is closed and its connections are gone: nothing still needs the pool.
      await runtime.dispatcher.destroy()
    }))
    await store.close()
  })

  const appliedAuth = new Map<string, AuthConfig>()
  const rotate = (next: Config): RotationOutcome => {
    const outcome = rotateCredentials(config, next, upstreams, (upstream) => (credentialFactories.get(upstream.name) as (u: UpstreamConfig) => CredentialSource)(upstream), appliedAuth)
    // New secrets join the censor before anything can log them.
    redacting.addSecrets(next.secrets)
    return outcome
  }

  return { app, admin, config, upstreams, lifecycle, logger, store, switch: requestSwitch as RequestSwitch, handler: handler as RequestHandler, rotate }
}

/**
 * How often Node looks for requests past headersTimeout / requestTimeout: a
 * quarter of the headers timeout, between 50 ms and 1 s, so a limit is
 * enforced at most a quarter late (and within a second) for the cost of one
 * walk over the open requests per tick.
 */
function checkingInterval (headersTimeoutMs: number): number {
  return Math.max(50, Math.min(1000, Math.floor(headersTimeoutMs / 4)))
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

/** Listen on server.host: the app-facing port, and the admin port when configured. */
export async function listen (sidecar: Sidecar): Promise<void> {
  const { host, port, adminPort } = sidecar.config.server
  await sidecar.app.listen({ host, port })
  if (sidecar.admin !== undefined && adminPort !== undefined) await sidecar.admin.listen({ host, port: adminPort })
  // The "listening" lines now, not with the first batch: scripts and probes wait for them.
  sidecar.logger.flush()
}
