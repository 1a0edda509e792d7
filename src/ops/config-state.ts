/**
 * Which config runs, for /status and /metrics: its generation (1 at
 * startup, one more per reload that switched a new config in), when it was
 * loaded, a SHA-256 that tells two configs apart, and what the last reload
 * did. The hash is over the effective config (presets, defaults, flags and
 * TOLLGATE_* variables applied) with every secret and every value a
 * `${...}` reference gave replaced by `<redacted>`: a hash over secrets
 * would let whoever reads /status test guesses against it.
 */
import { createHash } from 'node:crypto'
import { Counter, Gauge, type Registry } from './prom-client.js'
import { printableConfig, REDACTED } from '../cli/effective-config.js'
import { canonical } from '../config/changes.js'
import type { ConfigIssue } from '../config/issues.js'
import type { Interpolated } from '../config/load.js'
import type { Config } from '../config/types.js'

export type ReloadResult = 'applied' | 'rejected' | 'partial'

const RESULTS: readonly ReloadResult[] = ['applied', 'rejected', 'partial']

/** Substituted values shorter than this are replaced only where their path says (a "1" must not blank every 1 in the config). */
const MIN_SWEPT_VALUE = 4

export interface ReloadReport {
  /** Epoch ms. */
  readonly at: number
  readonly result: ReloadResult
  /** Why it was rejected: field paths and messages, never values. */
  readonly problems: readonly ConfigIssue[]
  /** Changed in the file, kept at the running value until a restart. */
  readonly restartNeeded: readonly string[]
  /** Changed in the file, hidden by a flag or a TOLLGATE_* variable. */
  readonly overridden: readonly string[]
}

export interface ConfigStatus {
  readonly generation: number
  readonly loadedAt: string
  readonly sha256: string
  readonly lastReload: {
    readonly at: string
    readonly result: ReloadResult
    readonly problems: ReadonlyArray<{ readonly path: string, readonly message: string }>
    readonly restartNeeded: readonly string[]
    readonly overridden: readonly string[]
  } | null
}

export class ConfigState {
  #generation = 1
  #loadedAt: number
  #sha256: string
  #last: ReloadReport | undefined
  readonly #reloads: Counter

  constructor (registry: Registry, config: Config, interpolated: Interpolated | undefined, now = Date.now) {
    this.#loadedAt = now()
    this.#sha256 = configDigest(config, interpolated)
    this.#reloads = new Counter({ name: 'tollgate_config_reloads_total', help: 'Config reloads (SIGHUP, a config or secret file change), by result: applied, partial (some changes need a restart), rejected (the running config kept)', labelNames: ['result'], registers: [registry] })
    for (const result of RESULTS) this.#reloads.labels(result).inc(0)
    const state = this
    // eslint-disable-next-line no-new -- prom-client registers the metric itself
    new Gauge({
      name: 'tollgate_config_generation',
      help: 'The running config\'s generation: 1 at startup, one more per reload that switched a new config in',
      registers: [registry],
      collect () { this.set(state.#generation) }
    })
  }

  get generation (): number {
    return this.#generation
  }

  /** A new config switched in. */
  switched (config: Config, interpolated: Interpolated | undefined, report: ReloadReport): void {
    this.#generation++
    this.#loadedAt = report.at
    this.#sha256 = configDigest(config, interpolated)
    this.recorded(report)
  }

  /** A reload that switched nothing in: rejected, or nothing to change. */
  recorded (report: ReloadReport): void {
    this.#last = report
    this.#reloads.labels(report.result).inc()
  }

  status (): ConfigStatus {
    const last = this.#last
    return {
      generation: this.#generation,
      loadedAt: new Date(this.#loadedAt).toISOString(),
      sha256: this.#sha256,
      lastReload: last === undefined
        ? null
        : {
            at: new Date(last.at).toISOString(),
            result: last.result,
            problems: last.problems.map(({ path, message }) => ({ path, message })),
            restartNeeded: last.restartNeeded,
            overridden: last.overridden
          }
    }
  }
}

/**
 * SHA-256 (hex) of the config in the file's vocabulary (`check --print`),
 * secrets already `<redacted>` there, and every value a reference gave
 * `<redacted>` too: by its path, and, for a value that ended up elsewhere (a
 * preset built a URL from it), wherever it appears.
 */
export function configDigest (config: Config, interpolated: Interpolated | undefined): string {
  const printable = printableConfig(config)
  for (const path of interpolated?.paths ?? []) redactAt(printable, path)
  const values = (interpolated?.values ?? []).filter((value) => value.length >= MIN_SWEPT_VALUE).sort((a, b) => b.length - a.length)
  return createHash('sha256').update(canonical(sweep(printable, values))).digest('hex')
}

/** `upstreams.a.headers.X-Api-Key`, `server.allow[0]`: the value there becomes `<redacted>` (header names match in any case). */
function redactAt (root: Record<string, unknown>, path: string): void {
  const steps = path.split('.').flatMap((part) => part.split(/\[(\d+)\]/).filter((step) => step !== ''))
  let node: unknown = root
  for (let i = 0; i < steps.length; i++) {
    if (node === null || typeof node !== 'object') return
    const container = node as Record<string, unknown>
    const step = steps[i] as string
    const key = step in container ? step : Object.keys(container).find((name) => name.toLowerCase() === step.toLowerCase())
    if (key === undefined) return
    if (i === steps.length - 1) container[key] = REDACTED
    else node = container[key]
  }
}

function sweep (value: unknown, values: readonly string[]): unknown {
  if (typeof value === 'string') return values.reduce((text, secret) => text.split(secret).join(REDACTED), value)
  if (Array.isArray(value)) return value.map((item) => sweep(item, values))
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, sweep(item, values)]))
  return value
}
