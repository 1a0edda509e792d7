/**
 * The printed report: Markdown tables (so a run can be pasted into
 * docs/benchmarks.md as is) and one verdict per target of issue #6.
 */
import type { LimiterSummary } from './scenario-limiter.js'
import type { QueueSummary } from './scenario-queue.js'
import type { RefreshResult } from './scenario-refresh.js'
import type { StampedeSummary } from './scenario-stampede.js'
import type { PacedRun, ThroughputResult, ThroughputRun } from './scenario-throughput.js'
import { max, median, min, percentile } from './stats.js'

export interface Results {
  throughput?: ThroughputResult
  refresh?: RefreshResult
  stampede?: StampedeSummary
  limiter?: LimiterSummary
  queue?: QueueSummary
}

/** Every target the harness judges; the smoke test checks that each is printed. */
export const TARGETS = [
  'throughput vs bare, 10 conns',
  'throughput vs bare, 100 conns',
  'p99 added over bare, 10 conns',
  'p99 added over bare, 100 conns',
  'RSS after the run',
  'stampede token requests',
  'limiter achieved rate',
  'limiter windows over N',
  'refresh waits'
] as const

const MB = 1024 * 1024

export function table (header: readonly string[], rows: ReadonlyArray<readonly string[]>, rightFrom = 1): string {
  return [
    `| ${header.join(' | ')} |`,
    `|${header.map((_, i) => i >= rightFrom ? '---:' : '---').join('|')}|`,
    ...rows.map((row) => `| ${row.join(' | ')} |`)
  ].join('\n')
}

const f = (value: number, digits = 2): string => Number.isFinite(value) ? value.toFixed(digits) : '–'

interface Cell { readonly runs: ThroughputRun[] }

function cells (runs: readonly ThroughputRun[]): Map<string, Cell> {
  const out = new Map<string, Cell>()
  for (const run of runs) {
    const key = `${run.load} ${run.connections} ${run.target}`
    const cell = out.get(key) ?? { runs: [] }
    cell.runs.push(run)
    out.set(key, cell)
  }
  return out
}

/** Per round, `of` against `to` (same load, connections, round), then the median and range. */
export function roundRatios (runs: readonly ThroughputRun[], load: string, connections: number, of: string, to: string, measure: (a: ThroughputRun, b: ThroughputRun) => number): number[] {
  const out: number[] = []
  for (const a of runs) {
    if (a.load !== load || a.connections !== connections || a.target !== of) continue
    const b = runs.find((r) => r.load === load && r.connections === connections && r.round === a.round && r.target === to)
    if (b !== undefined) out.push(measure(a, b))
  }
  return out
}

const rpsRatio = (a: ThroughputRun, b: ThroughputRun): number => a.result.rps / b.result.rps
const p99Added = (a: ThroughputRun, b: ThroughputRun): number => a.result.p99 - b.result.p99
const cpuRatio = (a: ThroughputRun, b: ThroughputRun): number => a.cpuPerRequest / b.cpuPerRequest

function spread (values: readonly number[], digits = 2): string {
  if (values.length === 0) return '–'
  if (values.length === 1) return f(values[0] as number, digits)
  return `${f(median(values), digits)} (${f(min(values), digits)}…${f(max(values), digits)})`
}

/** What a table row is built from: one load, connection count and target, and the targets listed before it. */
interface RowContext {
  readonly load: string
  readonly connections: number
  readonly target: string
  /** Ratios are only taken against a target listed before this one (bare against direct; tollgate against both). */
  readonly before: readonly string[]
  /** The median over this cell's rounds. */
  pick (fn: (r: ThroughputRun) => number): number
  readonly failed: number
}

/** One row per (load, connections, target) that ran, in that order; the first three columns are common. */
function rowsOf (runs: readonly ThroughputRun[], targets: readonly string[], build: (row: RowContext) => string[]): string[][] {
  const groups = cells(runs)
  const rows: string[][] = []
  for (const load of new Set(runs.map((r) => r.load))) {
    for (const connections of new Set(runs.map((r) => r.connections))) {
      for (const target of targets) {
        const cell = groups.get(`${load} ${connections} ${target}`)
        if (cell === undefined) continue
        const pick = (fn: (r: ThroughputRun) => number): number => median(cell.runs.map(fn))
        const failed = cell.runs.reduce((sum, r) => sum + r.result.non2xx + r.result.errors + r.result.timeouts, 0)
        const before = targets.slice(0, targets.indexOf(target))
        rows.push([load === 'get' ? 'GET small' : 'POST 64 KiB', String(connections), target, ...build({ load, connections, target, before, pick, failed })])
      }
    }
  }
  return rows
}

export function throughputSection (result: ThroughputResult, targets: readonly string[]): string {
  const runs = result.runs
  // Ratios against each floor, and against tollgate itself when a candidate runs beside it.
  const refs = targets.includes('candidate') ? ['bare', 'direct', 'tollgate'] : ['bare', 'direct']
  const rows = rowsOf(runs, targets, ({ load, connections: c, target, before, pick, failed }) => [
    f(pick((r) => r.result.rps), 0),
    f(pick((r) => r.result.p50)),
    f(pick((r) => r.result.p99)),
    f(pick((r) => r.result.p999)),
    ...refs.map((ref) => before.includes(ref) ? spread(roundRatios(runs, load, c, target, ref, rpsRatio)) : ''),
    before.includes('bare') ? spread(roundRatios(runs, load, c, target, 'bare', p99Added)) : '',
    f(pick((r) => r.cpuPerRequest), 0),
    before.includes('bare') ? spread(roundRatios(runs, load, c, target, 'bare', cpuRatio)) : '',
    ...(refs.includes('tollgate') ? [before.includes('tollgate') ? spread(roundRatios(runs, load, c, target, 'tollgate', cpuRatio)) : ''] : []),
    f(100 * pick((r) => r.foreignCpu), 0),
    String(failed)
  ])
  return table(['load', 'conns', 'target', 'req/s', 'p50 ms', 'p99 ms', 'p99.9 ms', ...refs.map((ref) => `req/s ×${ref}`), '+p99 vs bare ms', 'proxy CPU µs/req', 'CPU ×bare', ...(refs.includes('tollgate') ? ['CPU ×tollgate'] : []), 'others\' CPU %', 'failed'], rows, 1)
}

/** The paired runs: every proxy saturated at once on one CPU; their ratios are the ones this machine resolves. */
export function pairedSection (result: ThroughputResult, targets: readonly string[]): string {
  const runs = result.paired
  const refs = targets.includes('candidate') ? ['bare', 'tollgate'] : ['bare']
  const rows = rowsOf(runs, targets, ({ load, connections: c, target, before, pick, failed }) => [
    f(pick((r) => r.result.rps), 0),
    ...refs.map((ref) => before.includes(ref) ? spread(roundRatios(runs, load, c, target, ref, rpsRatio)) : ''),
    f(pick((r) => r.cpuPerRequest), 0),
    ...refs.map((ref) => before.includes(ref) ? spread(roundRatios(runs, load, c, target, ref, cpuRatio)) : ''),
    String(failed)
  ])
  return table(['load', 'conns', 'target', 'req/s', ...refs.map((ref) => `req/s ×${ref}`), 'proxy CPU µs/req', ...refs.map((ref) => `CPU ×${ref}`), 'failed'], rows, 1)
}

/** Per round, `of`'s p-th percentile latency minus `to`'s at the same connections; their median is the added latency. */
export function pacedAdded (runs: readonly PacedRun[], connections: number, of: string, to: string, pick: (r: PacedRun) => number): number[] {
  const out: number[] = []
  for (const a of runs) {
    if (a.connections !== connections || a.target !== of) continue
    const b = runs.find((r) => r.connections === connections && r.round === a.round && r.target === to)
    if (b !== undefined) out.push(pick(a) - pick(b))
  }
  return out
}

export function pacedSection (runs: readonly PacedRun[], targets: readonly string[]): string {
  const rows: string[][] = []
  for (const c of [...new Set(runs.map((r) => r.connections))]) {
    for (const target of targets) {
      const mine = runs.filter((r) => r.connections === c && r.target === target)
      if (mine.length === 0) continue
      const judged = target !== 'direct' && target !== 'bare'
      rows.push([
        String(c), target, String(mine[0]?.rate ?? ''),
        f(median(mine.map((r) => r.result.p50))), f(median(mine.map((r) => r.result.p99))), f(median(mine.map((r) => r.result.p999))),
        judged ? spread(pacedAdded(runs, c, target, 'bare', (r) => r.result.p50)) : '',
        judged ? spread(pacedAdded(runs, c, target, 'bare', (r) => r.result.p99)) : '',
        String(mine.reduce((sum, r) => sum + r.result.non2xx, 0))
      ])
    }
  }
  return table(['conns', 'target', 'req/s offered', 'p50 ms', 'p99 ms', 'p99.9 ms', '+p50 vs bare ms', '+p99 vs bare ms', 'failed'], rows, 2)
}

export function memorySection (result: ThroughputResult): string {
  return table(['process', 'RSS idle MB', 'peak RSS (VmHWM) MB', 'RSS as the load stopped MB', 'RSS after the run (settled) MB', 'heap used after MB'], result.memory.map((m) => [
    m.target, f(m.idle.rss / MB, 1), f(m.proc.peakRss / MB, 1), f(m.atEnd.rss / MB, 1), f(m.proc.rss / MB, 1), f(m.heapUsed / MB, 1)
  ]))
}

export function refreshSection (r: RefreshResult): string {
  return [
    `token lifetime ${r.lifetimeMs} ms, refreshBefore ${r.refreshBeforeMs} ms, token endpoint delay ${r.tokenDelayMs} ms; GET small, 10 conns; control = the long-token tollgate, alternating`,
    '',
    table(['round', 'control p99 ms', 'refreshing p99 ms', 'p99 during refreshes ms (responses)', 'refreshes', 'requests', `waited ≥ ${r.tokenDelayMs / 2} ms`, 'waited ≥ 1 ms'],
      r.rounds.map((x, i) => [String(i + 1), f(x.controlP99), f(x.refreshP99), `${f(x.duringP99)} (${x.duringCount})`, String(x.refreshes), String(x.requests), String(x.waited), String(x.waitedAtAll)])),
    '',
    `median p99 ratio refreshing/control ${f(r.p99Ratio)}; during refreshes/control ${f(r.duringRatio)}`
  ].join('\n')
}

export function stampedeSection (s: StampedeSummary): string {
  return table(['concurrent first requests', 'token requests', 'statuses', 'TTFB p50 ms', 'TTFB p99 ms', 'TTFB max ms', 'burst span ms', 'token endpoint delay ms'], [[
    String(s.count), String(s.tokenRequests), Object.entries(s.statuses).map(([k, v]) => `${k}×${v}`).join(' '),
    f(s.ttfbP50, 1), f(s.ttfbP99, 1), f(s.ttfbMax, 1), f(s.spanMs, 1), String(s.tokenDelayMs)
  ]])
}

export function limiterSection (l: LimiterSummary): string {
  return table(['limit', 'load', 'starts', 'max in any window', 'windows over N', 'achieved / N', 'late min / p50 / p99 / max ms', 'client p50 ms', 'tollgate CPU per start ms', '503s'], [[
    `${l.requests} per ${l.windowMs} ms`, `${l.connections} conns, ${l.durationS} s`, String(l.starts), String(l.maxInWindow), String(l.violations),
    `${f(l.achieved, 4)} over ${l.windows} windows`, `${f(l.lateMin, 3)} / ${f(l.lateP50)} / ${f(l.lateP99)} / ${f(l.lateMax)}`, f(l.clientP50, 1), f(l.cpuMsPerRequest, 3), String(l.non2xx)
  ]])
}

export function queueSection (q: QueueSummary): string {
  const kb = (bytes: number): string => f(bytes / 1024, 2)
  return table(['queued', 'heap before / loaded / after MB', 'RSS before / loaded / after MB', 'heap per queued KB', 'RSS per queued KB', 'queue after clients left', 'fill ms'], [[
    `${q.queued} of ${q.count}`,
    `${f(q.before.heapUsed / MB, 1)} / ${f(q.loaded.heapUsed / MB, 1)} / ${f(q.after.heapUsed / MB, 1)}`,
    `${f(q.before.rss / MB, 1)} / ${f(q.loaded.rss / MB, 1)} / ${f(q.after.rss / MB, 1)}`,
    kb(q.heapPerRequest), kb(q.rssPerRequest), String(q.queuedAfterAbort), f(q.fillMs, 0)
  ]])
}

interface Verdict { readonly target: string, readonly goal: string, readonly measured: string, readonly verdict: string }

export function verdicts (results: Results): Verdict[] {
  const out: Verdict[] = []
  const notRun = (target: string, goal: string): Verdict => ({ target, goal, measured: 'not run', verdict: 'NOT RUN' })
  const pass = (ok: boolean): string => ok ? 'PASS' : 'FAIL'
  const runs = results.throughput?.runs ?? []
  for (const c of [10, 100]) {
    // Judged on the paired runs when there are any (scenario-throughput.ts says why); the alternating ones are shown beside.
    const alternating = roundRatios(runs, 'get', c, 'tollgate', 'bare', rpsRatio)
    const paired = roundRatios(results.throughput?.paired ?? [], 'get', c, 'tollgate', 'bare', rpsRatio)
    const judged = paired.length > 0 ? paired : alternating
    const label = `throughput vs bare, ${c} conns`
    const measured = [
      paired.length > 0 ? `${spread(paired)}× paired` : '',
      alternating.length > 0 ? `${spread(alternating)}× alternating` : ''
    ].filter((part) => part !== '').join('; ')
    out.push(judged.length === 0 ? notRun(label, '≥ 0.90× (GET small)') : { target: label, goal: '≥ 0.90× (GET small)', measured, verdict: pass(median(judged) >= 0.9) })
  }
  const paced = results.throughput?.paced ?? []
  for (const c of [10, 100]) {
    const added = pacedAdded(paced, c, 'tollgate', 'bare', (r) => r.result.p99)
    const rate = paced.find((r) => r.connections === c)?.rate
    const label = `p99 added over bare, ${c} conns`
    // A 1 ms goal cannot be judged from rounds that disagree by more than a few ms (noisy neighbours).
    // The middle half of the rounds must agree: one round that a stall hit unevenly does not veto.
    const resolved = added.length > 0 && percentile(added, 75) - percentile(added, 25) <= 3
    out.push(added.length === 0
      ? notRun(label, '≤ 1 ms (GET small, paced)')
      : { target: label, goal: '≤ 1 ms (GET small, paced)', measured: `${f(median(added))} ms (rounds ${f(min(added))}…${f(max(added))}, middle half ${f(percentile(added, 25))}…${f(percentile(added, 75))}) at ${rate} req/s each`, verdict: resolved ? pass(median(added) <= 1) : 'NOISY' })
  }
  const memory = results.throughput?.memory.find((m) => m.target === 'tollgate')
  out.push(memory === undefined
    ? notRun('RSS after the run', '≤ 120 MB')
    : { target: 'RSS after the run', goal: '≤ 120 MB', measured: `${f(memory.proc.rss / MB, 1)} MB settled (as the load stopped ${f(memory.atEnd.rss / MB, 1)} MB, peak ${f(memory.proc.peakRss / MB, 1)} MB)`, verdict: pass(memory.proc.rss <= 120 * MB) })
  const s = results.stampede
  out.push(s === undefined
    ? notRun('stampede token requests', 'exactly 1')
    : { target: 'stampede token requests', goal: 'exactly 1', measured: `${s.tokenRequests} for ${s.count} requests`, verdict: pass(s.tokenRequests === 1) })
  const l = results.limiter
  out.push(l === undefined
    ? notRun('limiter achieved rate', '≥ 0.98 N')
    : { target: 'limiter achieved rate', goal: '≥ 0.98 N', measured: `${f(l.achieved, 4)} N`, verdict: pass(l.achieved >= 0.98) })
  out.push(l === undefined
    ? notRun('limiter windows over N', '0')
    : { target: 'limiter windows over N', goal: '0', measured: `${l.violations} (max ${l.maxInWindow} in any ${l.windowMs} ms, N = ${l.requests})`, verdict: pass(l.violations === 0) })
  const r = results.refresh
  out.push(r === undefined
    ? notRun('refresh waits', '0 requests wait; p99 ≈ control')
    : { target: 'refresh waits', goal: '0 requests wait; p99 ≈ control', measured: `${r.waited} waited over ${r.refreshes} refreshes; p99 ${f(r.p99Ratio)}× control, ${f(r.duringRatio)}× during refreshes`, verdict: pass(r.waited === 0 && r.refreshes > 0) })
  return out
}

export function verdictSection (results: Results): string {
  return table(['target', 'goal', 'measured', 'verdict'], verdicts(results).map((v) => [v.target, v.goal, v.measured, v.verdict]), 4)
}
