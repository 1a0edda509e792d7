/**
 * The limiter-redis scenario's arithmetic, kept pure so that it is unit
 * tested (test/unit/bench-limiter-redis.test.ts): the sliding-window check
 * over the upstream's recording with the outage set apart, the share of N
 * used outside it, and the SLOWLOG's script durations.
 *
 * What counts as an outage window. docs/scaling.md promises one window for
 * all replicas while Redis answers, and, while it is away with
 * `onUnavailable: local`, each replica at its share of N (issue 17), so N in
 * all there too. A window is judged apart when one of its arrivals lies in
 * the outage span [Redis stopped, the last replica shared again]: the report
 * shows both, and both must hold at most N.
 */
import { createHash } from 'node:crypto'
import { maxInAnyWindow } from '../test/helpers/window.js'
import { percentile } from './stats.js'

/** A closed interval of epoch ms. */
export interface Span {
  readonly from: number
  readonly to: number
}

export interface OutageWindowCheck {
  /** Pairs (i, i + N) of arrivals less than a window apart, the whole pair's span outside the outage: N + 1 arrivals in one window. */
  readonly violations: number
  /** Most arrivals in any window (half-open, length W) with no arrival in the outage span. */
  readonly maxOutside: number
  /** Most arrivals in any window with an arrival in the outage span (0 without an outage). */
  readonly maxInside: number
}

/** The sliding-window check of stats.ts's windowCheck, with the windows that hold an outage arrival counted apart. */
export function outageWindowCheck (starts: readonly number[], requests: number, windowMs: number, outage: Span | undefined): OutageWindowCheck {
  const s = [...starts].sort((a, b) => a - b)
  const at = (i: number): number => s[i] as number
  // The arrivals in the outage span are one run of indices, [oa, ob) (empty without an outage).
  let oa = s.length
  let ob = s.length
  if (outage !== undefined) {
    const first = s.findIndex((t) => t >= outage.from)
    oa = first === -1 ? s.length : first
    const after = s.findIndex((t) => t > outage.to)
    ob = after === -1 ? s.length : after
  }
  /** Arrivals i..j (sorted indices) include one in the outage span. */
  const touches = (i: number, j: number): boolean => oa < ob && i < ob && j >= oa
  let violations = 0
  for (let i = 0; i + requests < s.length; i++) {
    if (at(i + requests) - at(i) < windowMs && !touches(i, i + requests)) violations++
  }
  let maxOutside = 0
  let maxInside = 0
  let from = 0
  for (let to = 0; to < s.length; to++) {
    while (at(to) - at(from) >= windowMs) from++
    // [from, to] is the largest window that ends with arrival `to`.
    if (!touches(from, to)) {
      maxOutside = Math.max(maxOutside, to - from + 1)
      continue
    }
    maxInside = Math.max(maxInside, to - from + 1)
    // Ending after the outage span: the largest window without an outage arrival starts after it.
    if (to >= ob) maxOutside = Math.max(maxOutside, to - ob + 1)
  }
  return { violations, maxOutside, maxInside }
}

/** Most arrivals in any window from each tag's (each replica's) arrivals alone. */
export function maxPerTag (starts: readonly number[], tags: readonly number[], windowMs: number): Map<number, number> {
  const byTag = new Map<number, number[]>()
  starts.forEach((t, i) => {
    const tag = tags[i] ?? -1
    const list = byTag.get(tag) ?? []
    list.push(t)
    byTag.set(tag, list)
  })
  return new Map([...byTag].sort(([a], [b]) => a - b).map(([tag, list]) => [tag, maxInAnyWindow(list, windowMs)]))
}

export interface Used {
  /** Arrivals counted over what the counted windows allow (N each). */
  readonly fraction: number
  /** Whole windows counted. */
  readonly windows: number
  readonly counted: number
}

/**
 * The share of N used in the whole windows that fit in each segment, laid
 * end to end from its start: arrivals in [from, from + k W) over k N.
 */
export function usedFraction (starts: readonly number[], requests: number, windowMs: number, segments: readonly Span[]): Used {
  let windows = 0
  let counted = 0
  for (const { from, to } of segments) {
    const k = Math.floor((to - from) / windowMs)
    if (!(k > 0)) continue
    windows += k
    const end = from + k * windowMs
    counted += starts.filter((t) => t >= from && t < end).length
  }
  return { fraction: windows === 0 ? NaN : counted / (windows * requests), windows, counted }
}

/**
 * The segments to judge use on: from the first arrival to the outage, and
 * from one window after the outage span (the replicas wrote back what they
 * started alone; the shared window is over-full for up to a window, by
 * design) to the last arrival.
 */
export function usedSegments (starts: readonly number[], windowMs: number, outage: Span | undefined): Span[] {
  let first = Infinity
  let last = -Infinity
  for (const t of starts) {
    if (t < first) first = t
    if (t > last) last = t
  }
  if (!(last >= first)) return []
  if (outage === undefined) return [{ from: first, to: last }]
  return [{ from: first, to: Math.min(last, outage.from) }, { from: outage.to + windowMs, to: last }].filter((s) => s.to > s.from)
}

/** Arrivals per consecutive window from `from`, as many whole windows as fit before `to`. */
export function perWindow (starts: readonly number[], windowMs: number, from: number, to: number): number[] {
  const k = Math.max(0, Math.floor((to - from) / windowMs))
  const counts = new Array<number>(k).fill(0)
  for (const t of starts) {
    const i = Math.floor((t - from) / windowMs)
    if (i >= 0 && i < k) counts[i] = (counts[i] as number) + 1
  }
  return counts
}

/** One SLOWLOG entry, as bench/redis-server.ts reads it. */
export interface SlowEntry {
  readonly id: number
  /** Unix seconds when it was logged (after it ran). */
  readonly at: number
  /** How long it ran, µs (execution only: no I/O, no queueing). */
  readonly micros: number
  /** argv[0], upper case. */
  readonly command: string
  /** argv[1]: the SHA of an EVALSHA, the function of an FCALL, the (truncated) script of an EVAL. */
  readonly arg: string
}

const SCRIPT_COMMANDS = new Set(['EVAL', 'EVALSHA', 'EVAL_RO', 'EVALSHA_RO', 'FCALL', 'FCALL_RO'])

export interface ScriptTimes {
  readonly name: string
  readonly count: number
  readonly p50: number
  readonly p99: number
  readonly p999: number
  readonly max: number
  /** Runs that took longer than 1 ms. */
  readonly over1ms: number
  /** The five longest, longest first: µs, and when each was logged (unix s, SLOWLOG's own resolution). */
  readonly top: ReadonlyArray<{ readonly micros: number, readonly at: number }>
}

export interface SlowlogSummary {
  /** Every script run, the stalled ones set apart. */
  readonly all: ScriptTimes
  readonly byScript: readonly ScriptTimes[]
  /** Script runs that a SIGSTOP caught mid-run: their duration is the stop's, not theirs. */
  readonly stalled: number
  /** Entries of any command, scripts or not. */
  readonly entries: number
}

/** sha1 of each Lua text, to its name (ioredis' defineCommand sends EVALSHA sha1(lua)). */
export function scriptNames (scripts: Readonly<Record<string, unknown>>): Map<string, string> {
  const out = new Map<string, string>()
  for (const [name, lua] of Object.entries(scripts)) {
    if (typeof lua === 'string') out.set(createHash('sha1').update(lua).digest('hex'), name)
  }
  return out
}

/**
 * Script durations from the SLOWLOG. An entry that ran for at least half of
 * a SIGSTOP (`stopMicros`) is one the stop caught mid-run: counted apart.
 */
export function summariseSlowlog (entries: readonly SlowEntry[], names: ReadonlyMap<string, string>, stopMicros = Infinity): SlowlogSummary {
  const scripts = entries.filter((e) => SCRIPT_COMMANDS.has(e.command))
  const stalled = scripts.filter((e) => e.micros >= stopMicros / 2)
  const kept = scripts.filter((e) => e.micros < stopMicros / 2)
  const times = (name: string, list: readonly SlowEntry[]): ScriptTimes => {
    const micros = list.map((e) => e.micros)
    const top = [...list].sort((a, b) => b.micros - a.micros).slice(0, 5).map((e) => ({ micros: e.micros, at: e.at }))
    return { name, count: list.length, p50: percentile(micros, 50), p99: percentile(micros, 99), p999: percentile(micros, 99.9), max: top[0]?.micros ?? 0, over1ms: micros.filter((m) => m > 1000).length, top }
  }
  const groups = new Map<string, SlowEntry[]>()
  for (const e of kept) {
    const name = e.command.startsWith('FCALL')
      ? `FCALL ${e.arg}`
      : e.command.startsWith('EVALSHA') ? names.get(e.arg.toLowerCase()) ?? `EVALSHA ${e.arg.slice(0, 8)}` : 'EVAL'
    const list = groups.get(name) ?? []
    list.push(e)
    groups.set(name, list)
  }
  return {
    all: times('all scripts', kept),
    byScript: [...groups].map(([name, list]) => times(name, list)).sort((a, b) => b.count - a.count),
    stalled: stalled.length,
    entries: entries.length
  }
}
