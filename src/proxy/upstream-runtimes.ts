/**
 * The upstreams' runtimes across config reloads. Each config generation
 * gets its own UpstreamRuntime per upstream (its config, read by its
 * requests from start to end), but what carries state is handed on:
 *
 *   part               kept when, in the new config, ...                    else
 *   limiter            the same target (same name; or, renamed, the same    a new one
 *                      target and credentials): reconfigured in place, so
 *                      recorded starts, held slots, the queue and a pause
 *                      all carry over
 *   credential source  also auth, tls and proxy unchanged: the token stays  a new one; the replaced one
 *                                                                           is closed and its token forgotten
 *   dispatcher         also timeout and the pool size unchanged             a new pool
 *
 * The same objects, not copies of their state: a request of the old
 * generation still holds its permit in the very limiter the new one uses,
 * so maxConcurrent and the window count both generations' requests. Each
 * part is counted by the runtimes (and a credential source by its token
 * dispatcher's owner) that use it, and closed when the last of them is
 * released: a retired generation is released once its requests are over
 * (or server.shutdownGrace has passed).
 */
import type { Logger } from 'pino'
import { tokenRequestHeaders, type CredentialSource } from '../auth/index.js'
import type { UpstreamConfig } from '../config/types.js'
import { canonical } from '../config/changes.js'
import { createUpstreamDispatchers, MAX_CONNECTIONS_PER_UPSTREAM, type UpstreamDispatchers } from '../egress/dispatcher.js'
import { PAUSE_ONLY, type Limiter } from '../limit/index.js'
import type { UpstreamMeter } from '../ops/metrics.js'
import type { Store } from '../store/index.js'
import type { Tracing } from '../telemetry/tracing.js'
import { Activity, type UpstreamRuntime } from './runtime.js'

export interface RuntimeDeps {
  readonly store: Store
  readonly logger: Logger
  /** Where HTTPS_PROXY / HTTP_PROXY / NO_PROXY are read. */
  readonly env: NodeJS.ProcessEnv
  /** One meter per upstream name, for the process' life (its counters must not restart at a reload). */
  readonly meter: (name: string) => UpstreamMeter
  /** Tracing on: token fetches are spans. */
  readonly tracing?: Tracing | undefined
}

/** A new generation's runtimes, not yet in use. */
export interface RuntimeSet {
  readonly runtimes: readonly UpstreamRuntime[]
  /** They take over: kept limiters take their new limits; replaced credentials are closed and their tokens forgotten. */
  commit (): void
  /** They never served (the generation failed to build): what they alone held is closed. */
  abort (): Promise<void>
}

/** A part and how many hold it; closed when the last lets go. */
class Shared<T> {
  readonly value: T
  readonly #dispose: () => Promise<void> | void
  #users = 0

  constructor (value: T, dispose: () => Promise<void> | void) {
    this.value = value
    this.#dispose = dispose
  }

  retain (): this {
    this.#users++
    return this
  }

  async release (): Promise<void> {
    if (--this.#users === 0) await this.#dispose()
  }
}

/** What the parts of one upstream log and count under: its current name (a rename moves them). */
interface Lineage {
  log: Logger
  meter: UpstreamMeter
}

interface Parts {
  readonly lineage: Lineage
  readonly limiter: Shared<Limiter>
  readonly credentials: Shared<CredentialSource>
  readonly dispatchers: Shared<UpstreamDispatchers>
}

export class UpstreamRuntimes {
  readonly #deps: RuntimeDeps
  readonly #parts = new WeakMap<UpstreamRuntime, Parts>()
  /** Credential sources replaced by a reload: closed (and forgotten) at once, released with their last runtime. */
  readonly #forgotten = new WeakSet<CredentialSource>()

  constructor (deps: RuntimeDeps) {
    this.#deps = deps
  }

  /** Runtimes for `upstreams`, taking over the parts of `previous` where the table above says. */
  build (upstreams: readonly UpstreamConfig[], previous: readonly UpstreamRuntime[] = []): RuntimeSet {
    const taken = new Set<UpstreamRuntime>()
    const names = new Set(upstreams.map((upstream) => upstream.name))
    const steps: Array<() => void> = []
    const runtimes = upstreams.map((upstream): UpstreamRuntime => {
      const before = predecessor(upstream, previous, names, taken)
      const parts = before === undefined ? undefined : this.#parts.get(before)
      const lineage: Lineage = parts?.lineage ?? { log: this.#log(upstream.name), meter: this.#deps.meter(upstream.name) }
      const limiter = parts?.limiter.retain() ?? this.#limiter(upstream, lineage).retain()
      const dispatchers = parts !== undefined && before !== undefined && dispatcherKey(before.config) === dispatcherKey(upstream)
        ? parts.dispatchers.retain()
        : this.#dispatchers(upstream, lineage).retain()
      let credentials: Shared<CredentialSource>
      if (parts !== undefined && before !== undefined && credentialsKey(before.config) === credentialsKey(upstream)) {
        credentials = parts.credentials.retain()
      } else {
        credentials = this.#credentials(upstream, lineage, dispatchers).retain()
        // The old secret is gone: its token must not be handed out again, not even to the old generation's stragglers.
        if (parts !== undefined) steps.push(() => { this.#forget(parts.credentials.value) })
      }
      if (before !== undefined) {
        steps.push(() => {
          limiter.value.reconfigure(upstream.rateLimit ?? PAUSE_ONLY)
          // Renamed: its logs and token counts go under the new name from now on.
          if (before.config.name !== upstream.name) {
            lineage.log = this.#log(upstream.name)
            lineage.meter = this.#deps.meter(upstream.name)
          }
        })
      }
      const runtime: UpstreamRuntime = {
        config: upstream,
        credentials: credentials.value,
        limiter: limiter.value,
        dispatcher: dispatchers.value.api,
        meter: this.#deps.meter(upstream.name),
        activity: new Activity()
      }
      this.#parts.set(runtime, { lineage, limiter, credentials, dispatchers })
      return runtime
    })
    return {
      runtimes,
      commit: () => { for (const step of steps) step() },
      abort: async () => { await this.release(runtimes) }
    }
  }

  /** A generation is over: each part it held is closed unless a newer generation holds it too. */
  async release (runtimes: readonly UpstreamRuntime[]): Promise<void> {
    await Promise.all(runtimes.map(async (runtime) => {
      const parts = this.#parts.get(runtime)
      if (parts === undefined) return
      this.#parts.delete(runtime)
      await Promise.all([parts.limiter.release(), parts.credentials.release(), parts.dispatchers.release()])
    }))
  }

  #log (name: string): Logger {
    return this.#deps.logger.child({ upstream: name })
  }

  #limiter (upstream: UpstreamConfig, lineage: Lineage): Shared<Limiter> {
    const limiter = this.#deps.store.createLimiter(upstream, { log: forward(lineage) })
    // Closed once no generation uses it: a request still queued then is refused (TG_SHUTTING_DOWN).
    return new Shared(limiter, async () => { await limiter.close() })
  }

  #dispatchers (upstream: UpstreamConfig, lineage: Lineage): Shared<UpstreamDispatchers> {
    const dispatchers = createUpstreamDispatchers(upstream, { env: this.#deps.env, log: lineage.log })
    // Released once no generation and no credential source uses it: requests are over (or the grace is), so destroy.
    return new Shared(dispatchers, async () => { await dispatchers.api.destroy() })
  }

  #credentials (upstream: UpstreamConfig, lineage: Lineage, dispatchers: Shared<UpstreamDispatchers>): Shared<CredentialSource> {
    const token = dispatchers.value.token
    const { tracing } = this.#deps
    const tracer = tracing !== undefined && upstream.auth.type === 'oauth2_client_credentials' ? tracing.tokenFetches(upstream.name, upstream.auth.tokenUrl) : undefined
    const source = this.#deps.store.createCredentialSource(upstream, {
      log: forward(lineage),
      onFetch: (outcome) => { lineage.meter.tokenFetch(outcome) },
      tokenHeaders: tokenRequestHeaders(upstream.headers),
      ...(token === undefined ? {} : { dispatcher: token }),
      ...(tracer === undefined ? {} : { tracer })
    })
    // It fetches through this upstream's token dispatcher: that stays open while the source does.
    dispatchers.retain()
    return new Shared(source, async () => {
      if (!this.#forgotten.has(source)) source.close()
      await dispatchers.release()
    })
  }

  #forget (source: CredentialSource): void {
    if (this.#forgotten.has(source)) return
    this.#forgotten.add(source)
    source.close({ forget: true })
  }
}

/**
 * The previous generation's runtime this upstream continues: the one of the
 * same name if its target is the same; else, for a rename or a moved
 * prefix, one not yet taken with the same target and credentials.
 */
function predecessor (upstream: UpstreamConfig, previous: readonly UpstreamRuntime[], names: ReadonlySet<string>, taken: Set<UpstreamRuntime>): UpstreamRuntime | undefined {
  const byName = previous.find((runtime) => runtime.config.name === upstream.name)
  // A runtime whose name is still in the new config belongs to that name, never to a rename.
  const found = byName !== undefined && byName.config.target === upstream.target
    ? byName
    : previous.find((runtime) => !taken.has(runtime) && !names.has(runtime.config.name) && runtime.config.target === upstream.target && credentialsKey(runtime.config) === credentialsKey(upstream))
  if (found !== undefined) taken.add(found)
  return found
}

/** What decides the token: the auth section, and how the token endpoint is reached (TLS, proxy). */
function credentialsKey (upstream: UpstreamConfig): string {
  return canonical([upstream.auth, upstream.tls ?? null, upstream.proxy ?? null])
}

/** What the pool and its deadline are built from (egress/dispatcher.ts). */
function dispatcherKey (upstream: UpstreamConfig): string {
  const connections = Math.min(upstream.rateLimit?.maxConcurrent ?? Infinity, MAX_CONNECTIONS_PER_UPSTREAM)
  const tokenUrl = upstream.auth.type === 'oauth2_client_credentials' ? upstream.auth.tokenUrl : null
  return canonical([upstream.target, upstream.tls ?? null, upstream.proxy ?? null, upstream.timeoutMs, connections, tokenUrl])
}

/** A log that writes under the lineage's current name (the limiter and the token cache keep the object they were given). */
function forward (lineage: Lineage): { info (obj: object, msg: string): void, warn (obj: object, msg: string): void, debug (obj: object, msg: string): void } {
  return {
    info: (obj, msg) => { lineage.log.info(obj, msg) },
    warn: (obj, msg) => { lineage.log.warn(obj, msg) },
    debug: (obj, msg) => { lineage.log.debug(obj, msg) }
  }
}
