/**
 * One reload, once the new config has validated (the CLI's reloader reads
 * the file: ops/reload.ts): plan what can change now (config/changes.ts),
 * build the next generation beside the running one, switch new requests to
 * it, and retire the old one once its requests are over, or cut them when
 * server.shutdownGrace has passed. Whatever fails before the switch leaves
 * the running generation as it was: the reload is rejected whole.
 */
import type { Logger } from 'pino'
import { planReload, same } from '../config/changes.js'
import type { ConfigIssue } from '../config/issues.js'
import type { Interpolated } from '../config/load.js'
import type { Config } from '../config/types.js'
import { buildGeneration, type Generation, type GenerationDeps } from '../generation.js'
import { createCensor, type RedactingLogger } from '../logger.js'
import type { UpstreamRuntimes } from '../proxy/upstream-runtimes.js'
import type { Store } from '../store/index.js'
import type { ConfigState, ReloadReport } from './config-state.js'
import type { Lifecycle } from './health.js'

export interface ReloadOptions {
  /** Where the new config's `${...}` values sit (LoadResult.interpolated): left out of its hash. */
  readonly interpolated?: Interpolated | undefined
  /** File changes a flag or a TOLLGATE_* variable hides (config/changes.ts overriddenChanges). */
  readonly overridden?: readonly string[]
  /** What asked for the reload, for its log line: `SIGHUP`, `config file`, `secret file`. */
  readonly reason?: string
}

/** The generations of one sidecar: the one serving, and older ones finishing their requests. */
export interface Reloading {
  current: Generation
  readonly retiring: Set<Generation>
  /** Reloads run one after another. */
  queue: Promise<void>
}

export interface ReloadContext {
  readonly state: Reloading
  readonly runtimes: UpstreamRuntimes
  readonly redacting: RedactingLogger
  readonly logger: Logger
  /** Where TOLLGATE_LOG_LEVEL is read (it wins over log.level, as at startup). */
  readonly env: NodeJS.ProcessEnv
  readonly lifecycle: Lifecycle
  readonly store: Store
  readonly configState: ConfigState
  readonly generationDeps: GenerationDeps
  /** New requests go to `generation` from now on. */
  switchTo (generation: Generation): void
}

export async function applyReload (context: ReloadContext, next: Config, options: ReloadOptions): Promise<ReloadReport> {
  const { state, logger, configState } = context
  const current = state.current
  const overridden = options.overridden ?? []
  const reason = options.reason === undefined ? {} : { reason: options.reason }
  if (context.lifecycle.draining) return reject(context, [{ path: '', message: 'the sidecar is shutting down' }], options)
  const plan = planReload(current.config, next, { sharedWindow: context.store.type === 'redis' })
  if (plan.problems.length > 0) return reject(context, plan.problems, options)
  const report: ReloadReport = { at: Date.now(), result: plan.restartNeeded.length > 0 ? 'partial' : 'applied', problems: [], restartNeeded: plan.restartNeeded, overridden }
  const noted = { ...reason, ...(report.restartNeeded.length === 0 ? {} : { restartNeeded: report.restartNeeded }), ...(overridden.length === 0 ? {} : { overridden }) }

  // Secrets are compared through the fields that hold them (the list only ever grows: planReload keeps old ones for the censor).
  if (same({ ...plan.config, secrets: [] }, { ...current.config, secrets: [] })) {
    configState.recorded(report)
    logger[report.result === 'partial' ? 'warn' : 'info']({ generation: configState.generation, result: report.result, ...noted }, 'config reloaded: nothing to change')
    return report
  }

  // Values kept from the running config came from its own `${...}` references.
  const interpolated = plan.restartNeeded.length === 0 ? options.interpolated : union(current.interpolated, options.interpolated)
  // New secrets join the censor before anything can log them.
  context.redacting.addSecrets(plan.config.secrets)
  const previousLevel = logger.level
  logger.level = logLevel(plan.config, context.env)
  const set = context.runtimes.build(plan.config.upstreams, current.upstreams)
  let generation: Generation
  try {
    generation = await buildGeneration(plan.config, set.runtimes, interpolated, context.generationDeps)
  } catch (err) {
    logger.level = previousLevel
    await set.abort()
    const message = (err as Error).message
    return reject(context, [{ path: '', message: `the new config could not be set up: ${createCensor(plan.config.secrets)?.(message) ?? message}` }], options)
  }
  if (context.lifecycle.draining) {
    // Shutdown began while it was built: the listener is closing, and it would outlive it.
    logger.level = previousLevel
    await generation.app.close()
    await set.abort()
    return reject(context, [{ path: '', message: 'the sidecar is shutting down' }], options)
  }
  set.commit()
  context.switchTo(generation)
  state.current = generation
  configState.switched(plan.config, interpolated, report)

  const before = new Set(current.config.upstreams.map((upstream) => upstream.name))
  const after = new Set(plan.config.upstreams.map((upstream) => upstream.name))
  logger[report.result === 'partial' ? 'warn' : 'info']({
    generation: configState.generation,
    result: report.result,
    sha256: configState.status().sha256,
    added: [...after].filter((name) => !before.has(name)),
    removed: [...before].filter((name) => !after.has(name)),
    ...noted
  }, report.result === 'partial' ? 'config reloaded; some changes need a restart and keep their running value' : 'config reloaded')
  retire(context, current, plan.config.server.shutdownGraceMs)
  return report
}

/** Nothing changes; the problems are recorded and logged with their paths (never a value). */
export function reject (context: Pick<ReloadContext, 'logger' | 'configState'>, problems: readonly ConfigIssue[], options: ReloadOptions): ReloadReport {
  const report: ReloadReport = { at: Date.now(), result: 'rejected', problems, restartNeeded: [], overridden: [] }
  context.configState.recorded(report)
  context.logger.warn({
    generation: context.configState.generation,
    ...(options.reason === undefined ? {} : { reason: options.reason }),
    problems: problems.map(({ path, message }) => ({ path, message }))
  }, 'config reload rejected: the running config keeps serving')
  return report
}

/**
 * The old generation takes no new request. Once every request it took is
 * over it is closed, with what no newer generation uses (a removed
 * upstream's limiter, pool and token source); at `graceMs` whatever is
 * still under way is cut: queued requests get 503, requests in flight are
 * aborted.
 */
function retire (context: ReloadContext, generation: Generation, graceMs: number): void {
  const { state, logger } = context
  state.retiring.add(generation)
  let timer: NodeJS.Timeout | undefined
  const graceOver = new Promise<'forced'>((resolve) => { timer = setTimeout(() => resolve('forced'), graceMs).unref() })
  const drained = Promise.all(generation.upstreams.map(async (runtime) => { await runtime.activity.whenIdle() })).then(() => 'drained' as const)
  Promise.race([drained, graceOver]).then(async (outcome) => {
    clearTimeout(timer)
    // Shutdown closes what is still retiring itself.
    if (!state.retiring.delete(generation)) return
    if (outcome === 'forced') {
      const left = generation.upstreams.filter((runtime) => runtime.activity.count > 0).map((runtime) => runtime.config.name)
      logger.warn({ upstreams: left, graceMs }, 'requests of the previous config still under way at server.shutdownGrace: cut')
    }
    await generation.app.close()
    await context.runtimes.release(generation.upstreams)
  }).catch((err: unknown) => { logger.error({ err }, 'closing the previous config generation failed') })
}

/** TOLLGATE_LOG_LEVEL wins over log.level, as at startup (logger.ts). */
function logLevel (config: Config, env: NodeJS.ProcessEnv): string {
  const variable = env.TOLLGATE_LOG_LEVEL
  return variable === undefined || variable === '' ? config.log.level : variable
}

function union (a: Interpolated | undefined, b: Interpolated | undefined): Interpolated | undefined {
  if (a === undefined || b === undefined) return a ?? b
  return { paths: [...new Set([...a.paths, ...b.paths])], values: [...new Set([...a.values, ...b.values])] }
}
