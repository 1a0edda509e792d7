/**
 * buildServer(config) → the sidecar, not yet listening (fastify Testing
 * guide). What lives as long as the process: the listener (a Fastify app
 * with no routes that owns the server and its timeouts), the logger, the
 * metrics, the store and the /status view. What a config decides is one
 * generation (generation.ts): an app with one upstream plugin per upstream,
 * the ops endpoints, problem+json errors and one log line per request.
 *
 * `sidecar.reload(next)` builds the next generation beside the running one,
 * makes it ready and switches new requests to it in one assignment
 * (request-switch.ts); requests in flight finish on the generation that took
 * them, which is closed once they are over (or server.shutdownGrace has
 * passed). The upstreams' tokens, windows and pools are handed on where
 * nothing that decides them changed (proxy/upstream-runtimes.ts).
 */
import type { Socket } from 'node:net'
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify'
import type { DestinationStream, Logger } from 'pino'
import type { ConfigIssue } from './config/issues.js'
import type { Interpolated } from './config/load.js'
import type { Config } from './config/types.js'
import { AbsoluteFormRefused } from './errors.js'
import { buildGeneration, type Generation, type GenerationDeps } from './generation.js'
import { checkOnlyWhileConnected } from './connection-checks.js'
import { openLogger, withLazyRequestLoggers } from './logger.js'
import { ConfigState, type ReloadReport } from './ops/config-state.js'
import { registerHealth, type Lifecycle } from './ops/health.js'
import { createMetrics, type UpstreamMeter } from './ops/metrics.js'
import { applyReload, reject, type ReloadOptions, type Reloading } from './ops/reload-apply.js'
import { registerOpsEndpoints, type OpsView } from './ops/status.js'
import { clientErrorHandler, frameworkErrors, installProblemHandlers } from './problem.js'
import type { UpstreamRuntime } from './proxy/runtime.js'
import { UpstreamRuntimes } from './proxy/upstream-runtimes.js'
import { RequestSwitch } from './request-switch.js'
import { openStore, type Store } from './store/index.js'
import { openTracing, type Tracing } from './telemetry/tracing.js'
import { packageVersion } from './cli/version.js'

export type { ReloadOptions } from './ops/reload-apply.js'
export type { ReloadReport } from './ops/config-state.js'

export interface ServerDeps {
  /** Where log lines go (tests pass a sink); stdout by default. */
  readonly logStream?: DestinationStream
  /** Where HTTPS_PROXY / HTTP_PROXY / NO_PROXY and TOLLGATE_LOG_LEVEL / TOLLGATE_LOG_FORMAT are read, once, at startup; process.env by default. */
  readonly env?: NodeJS.ProcessEnv
  /** Where the config's `${...}` values sit (LoadResult.interpolated): left out of its hash in /status. */
  readonly interpolated?: Interpolated
}

export interface Sidecar {
  /** The listener: `listen` and `close` (which drains nothing: see ops/shutdown.ts) are on it. */
  readonly app: FastifyInstance
  /** The admin listener (/metrics, /status, probes) when server.adminPort is set. */
  readonly admin: FastifyInstance | undefined
  /** The config in force now (a reload may change it). */
  readonly config: Config
  /** The running generation's upstreams. */
  readonly upstreams: readonly UpstreamRuntime[]
  readonly lifecycle: Lifecycle
  readonly logger: Logger
  readonly store: Store
  readonly configState: ConfigState
  /** OpenTelemetry tracing, when `telemetry` names an endpoint (restart to change). */
  readonly tracing: Tracing | undefined
  /**
   * Take up `next` (validated, flags and TOLLGATE_* variables applied):
   * applied, partial (what needs a restart keeps its running value) or
   * rejected (the running config keeps serving). Reloads run one at a time.
   */
  reload (next: Config, options?: ReloadOptions): Promise<ReloadReport>
  /** A reload whose config never got this far (it did not validate): recorded and logged, nothing changes. */
  reject (problems: readonly ConfigIssue[], options?: ReloadOptions): ReloadReport
}

export async function buildServer (config: Config, deps: ServerDeps = {}): Promise<Sidecar> {
  const env = deps.env ?? process.env
  const redacting = await openLogger({ ...config.log, secrets: config.secrets, stream: deps.logStream, env })
  const logger = redacting.logger
  const fastifyLogger = withLazyRequestLoggers(logger) as FastifyBaseLogger
  const lifecycle: Lifecycle = { draining: false }
  let made: RequestSwitch | undefined

  // The listener outlives every config: each generation is built on its server and switched in.
  const app = Fastify({
    serverFactory: (handler, options) => {
      made = new RequestSwitch(handler, options)
      return made.server
    },
    loggerInstance: fastifyLogger,
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: 'requestId' }),
    return503OnClosing: false,
    forceCloseConnections: 'idle',
    // Slow clients (slowloris): the headers must arrive within headersTimeout and the whole
    // request, body included, within bodyTimeout, else 408 and the socket is closed. Node checks
    // both on a timer, every 30 s by default: far too coarse for a 10 s limit.
    requestTimeout: config.server.bodyTimeoutMs,
    http: { connectionsCheckingInterval: checkingInterval(config.server.headersTimeoutMs) },
    frameworkErrors,
    clientErrorHandler
  })
  // Fastify calls serverFactory from its constructor.
  const requestSwitch = made as unknown as RequestSwitch
  app.server.headersTimeout = config.server.headersTimeoutMs
  // The slow-client checks run only while a connection is open: an idle sidecar is not woken for them.
  checkOnlyWhileConnected(app.server)
  // CONNECT never reaches Fastify; answer it here rather than let Node drop the socket silently.
  app.server.on('connect', (_req, socket: Socket) => {
    const body = JSON.stringify({ type: 'urn:tollgate:problem:TG_ABSOLUTE_FORM', title: 'Bad Request', status: 400, detail: new AbsoluteFormRefused().message, code: 'TG_ABSOLUTE_FORM' })
    socket.end(`HTTP/1.1 400 Bad Request\r\ncontent-type: application/problem+json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`)
  })

  const metrics = createMetrics()
  const configState = new ConfigState(metrics.registry, config, deps.interpolated)
  // Where limiter and token state live (memory or Redis); with store.onUnavailable: fail, an unreachable Redis stops startup here.
  const store = await openStore(config.store, { log: logger.child({ component: 'store' }) })
  // Off (undefined) unless an endpoint is configured: then, and only then, the OpenTelemetry SDK is loaded.
  const tracing = await openTracing(config.telemetry, { version: packageVersion, log: logger.child({ component: 'tracing' }) })
  // One meter per upstream name for the process' life: a reload must not restart its counters.
  const meters = new Map<string, UpstreamMeter>()
  const runtimes = new UpstreamRuntimes({
    store,
    logger,
    env,
    tracing,
    meter: (name) => {
      let meter = meters.get(name)
      if (meter === undefined) meters.set(name, meter = metrics.meter(name))
      return meter
    }
  })
  metrics.watchStore(() => store.status())

  const state: Reloading = { current: undefined as unknown as Generation, retiring: new Set(), queue: Promise.resolve() }
  const ops: OpsView = { metrics, lifecycle, upstreams: () => state.current.upstreams, config: () => configState.status() }

  // /metrics and /status: on the app-facing listener, or alone on server.adminPort.
  let admin: FastifyInstance | undefined
  if (config.server.adminPort !== undefined) {
    admin = Fastify({
      loggerInstance: fastifyLogger,
      logController: new LogController({ disableRequestLogging: true }),
      // The same slowloris limits as the app-facing listener: it listens on the same host.
      requestTimeout: config.server.bodyTimeoutMs,
      http: { connectionsCheckingInterval: checkingInterval(config.server.headersTimeoutMs) }
    })
    admin.server.headersTimeout = config.server.headersTimeoutMs
    checkOnlyWhileConnected(admin.server)
    installProblemHandlers(admin)
    registerHealth(admin, lifecycle)
    registerOpsEndpoints(admin, ops)
  }

  const generationDeps: GenerationDeps = { server: app.server, logger, fastifyLogger, metrics, lifecycle, ops: admin === undefined ? ops : undefined, tracing }
  const first = runtimes.build(config.upstreams)
  try {
    state.current = await buildGeneration(config, first.runtimes, deps.interpolated, generationDeps)
  } catch (err) {
    await first.abort()
    await store.close()
    await tracing?.shutdown()
    throw err
  }
  first.commit()
  const switchTo = (generation: Generation): void => {
    requestSwitch.use(generation.handler)
    // /metrics reads the serving generation's credentials and limiters at scrape time. A getter: a test may swap a runtime's credentials.
    metrics.watch(generation.upstreams.map((runtime) => ({ name: runtime.config.name, get credentials () { return runtime.credentials }, limiter: runtime.limiter })))
  }
  switchTo(state.current)

  app.addHook('onClose', async () => {
    // The listener is closed and its connections are gone: every generation and what it held can go.
    await admin?.close()
    const generations = [...state.retiring, state.current]
    state.retiring.clear()
    await Promise.all(generations.map(async (generation) => {
      await generation.app.close()
      await runtimes.release(generation.upstreams)
    }))
    await store.close()
    // Last: the spans of the requests just finished are exported before the process goes.
    await tracing?.shutdown()
  })

  const context = { state, runtimes, redacting, logger, env, lifecycle, store, configState, generationDeps, switchTo }
  return {
    app,
    admin,
    get config () { return state.current.config },
    get upstreams () { return state.current.upstreams },
    lifecycle,
    logger,
    store,
    configState,
    tracing,
    reload: async (next, options = {}) => {
      const run = state.queue.then(async () => await applyReload(context, next, options))
      state.queue = run.then(() => {}, () => {})
      return await run
    },
    reject: (problems, options = {}) => reject(context, problems, options)
  }
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

/** Listen on server.host: the app-facing port, and the admin port when configured. */
export async function listen (sidecar: Sidecar): Promise<void> {
  const { host, port, adminPort } = sidecar.config.server
  await sidecar.app.listen({ host, port })
  if (sidecar.admin !== undefined && adminPort !== undefined) await sidecar.admin.listen({ host, port: adminPort })
  // The "listening" lines now, not with the first batch: scripts and probes wait for them.
  sidecar.logger.flush()
}
