/**
 * The footprint scenario's part of the report: one row per target (medians
 * over rounds), tollgate's ratios to the bare proxy per round, the command
 * lines, and the verdicts of issue 18's targets, judged on tollgate with
 * the memory store (the redis row is reported beside it, not judged).
 */
import type { FootprintResult, FootprintRun, FootprintTarget } from './scenario-footprint.js'
import { max, median, min } from './stats.js'

export const FOOTPRINT_TARGETS = [
  'footprint ready vs bare',
  'footprint idle RSS at 60 s vs bare',
  'footprint idle CPU vs bare',
  'footprint RSS after load vs bare'
] as const

const MB = 1024 * 1024
const f = (value: number, digits = 2): string => Number.isFinite(value) ? value.toFixed(digits) : '–'

function table (header: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  return [`| ${header.join(' | ')} |`, `|${header.map((_, i) => i === 0 ? '---' : '---:').join('|')}|`, ...rows.map((row) => `| ${row.join(' | ')} |`)].join('\n')
}

/** Idle CPU as ms per minute. */
const idlePerMin = (r: FootprintRun): number => r.idle.cpuMs * 60 / r.idle.windowS
/** CPU per 1,000 req/s, in vCPU (CPU seconds per second). */
const vcpuPer1000 = (r: FootprintRun, rate: number): number => r.paced === undefined ? NaN : r.paced.cpuMs / r.paced.result.elapsedMs / (rate / 1000)

interface Measure { readonly label: string, readonly of: (r: FootprintRun) => number }

const MEASURES = (rate: number): Measure[] => [
  { label: 'ready ms', of: (r) => r.readyMs },
  { label: 'CPU to ready ms', of: (r) => r.readyCpuMs },
  { label: 'RSS 30 s MB', of: (r) => r.rssIdle[0] / MB },
  { label: 'RSS 60 s MB', of: (r) => r.rssIdle[1] / MB },
  { label: 'idle CPU ms/min', of: idlePerMin },
  { label: 'of it /metrics', of: (r) => r.idle.scrapeCpuMs * 60 / r.idle.windowS },
  { label: 'wake-ups/min', of: (r) => r.idle.wakeups * 60 / r.idle.windowS },
  { label: 'threads', of: (r) => r.idle.threads },
  { label: 'RSS after load MB', of: (r) => r.rssAfterLoad / MB },
  { label: 'vCPU per 1,000 req/s', of: (r) => vcpuPer1000(r, rate) },
  { label: 'RSS at 1,000 req/s MB', of: (r) => (r.paced?.rss ?? NaN) / MB },
  { label: 'p50 ms', of: (r) => r.paced?.result.p50 ?? NaN },
  { label: 'p90 ms', of: (r) => r.paced?.result.p90 ?? NaN },
  { label: 'p99 ms', of: (r) => r.paced?.result.p99 ?? NaN }
]

/** Per round, `of(target) / of(bare)`. */
export function footprintRatios (result: FootprintResult, target: FootprintTarget, of: (r: FootprintRun) => number): number[] {
  const out: number[] = []
  for (const run of result.runs) {
    if (run.target !== target) continue
    const bare = result.runs.find((r) => r.round === run.round && r.target === 'bare')
    if (bare !== undefined) out.push(of(run) / of(bare))
  }
  return out
}

const targetsOf = (result: FootprintResult): FootprintTarget[] => (['bare', 'tollgate', 'tollgate-redis'] as const).filter((t) => result.runs.some((r) => r.target === t))
const spread = (all: readonly number[]): string => {
  // A round whose paced run failed has no value: left out, not shown as a range of '–'.
  const values = all.filter((v) => Number.isFinite(v))
  return values.length === 0 ? '–' : `${f(median(values))} (${f(min(values))}…${f(max(values))})`
}

export function footprintSection (result: FootprintResult): string {
  const { timing } = result
  const measures = MEASURES(timing.pacedRate)
  const targets = targetsOf(result)
  const rows = targets.map((target) => {
    const runs = result.runs.filter((r) => r.target === target)
    return [target, ...measures.map((m) => f(median(runs.map(m.of)), m.label.startsWith('ready') || m.label.startsWith('CPU to') || m.label.startsWith('wake') || m.label === 'threads' ? 0 : 2))]
  })
  const ratioRows = targets.filter((t) => t !== 'bare').flatMap((target) => measures.filter((m) => m.label !== 'of it /metrics' && m.label !== 'threads').map((m) => [`${target}: ${m.label}`, spread(footprintRatios(result, target, m.of))]))
  // Within each paced run: tollgate's percentile minus the bare proxy's, their turns interleaved.
  const added = targets.filter((t) => t !== 'bare').map((target) => {
    const p = (key: 'p90' | 'p99'): number[] => result.runs.filter((r) => r.target === target).flatMap((r) => r.paced?.bare === undefined ? [] : [r.paced.result[key] - r.paced.bare[key]])
    return [target, spread(p('p90')), spread(p('p99'))]
  })
  const failures = result.runs.filter((r) => r.pacedError !== undefined).map((r) => `- round ${r.round}, ${r.target}: ${r.pacedError ?? ''}`)
  return [
    `Node ${result.node.version}${result.node.note === undefined ? '' : ` (${result.node.note})`}; ${new Set(result.runs.map((r) => r.round)).size} round(s), fresh processes each, started one after the other (order alternating), then idle side by side; RSS at ${timing.idleAtS[0]} s and ${timing.idleAtS[1]} s after each one's first 200, idle CPU between, a /metrics scrape every ${timing.scrapeEveryS} s to each (404 from the bare proxy); RSS ${timing.settleS} s after ${timing.loadRequests.toLocaleString('en')} GETs; then ${timing.pacedRate.toLocaleString('en')} req/s, paced, ${timing.pacedS} s each, the proxies taking turns of ${f(timing.pacedSliceMs / 1000, 2)} s (each loaded alone).${result.redisSkipped === undefined ? '' : ` No redis row: ${result.redisSkipped}.`}`,
    '',
    table(['target (medians over rounds)', ...measures.map((m) => m.label)], rows),
    '',
    'Ratios to the bare proxy, per round (median, range):',
    '',
    table(['measure', '× bare'], ratioRows),
    '',
    `Added over the bare proxy at ${timing.pacedRate.toLocaleString('en')} req/s, in the same paced run (median, range of rounds):`,
    '',
    table(['target', 'p90 added ms', 'p99 added ms'], added),
    '',
    ...(failures.length === 0 ? [] : ['Paced runs that failed:', '', ...failures, '']),
    'Command lines (PATH aside, the whole environment):',
    '',
    ...targets.map((t) => `- ${t}: \`${result.commands[t] ?? '?'}\``)
  ].join('\n')
}

export interface FootprintVerdict { readonly target: string, readonly goal: string, readonly measured: string, readonly verdict: string }

export function footprintVerdicts (result: FootprintResult | undefined): FootprintVerdict[] {
  const goals = ['≤ 1.0×', '≤ 1.05×', '≤ 1.0×', '≤ 1.05×'] as const
  if (result === undefined) return FOOTPRINT_TARGETS.map((target, i) => ({ target, goal: goals[i] as string, measured: 'not run', verdict: 'NOT RUN' }))
  const redis = (of: (r: FootprintRun) => number): string => result.runs.some((r) => r.target === 'tollgate-redis') ? `; store.type redis ${f(median(footprintRatios(result, 'tollgate-redis', of)))}×` : ''
  const ratioVerdict = (i: number, of: (r: FootprintRun) => number, limit: number, unit: (r: FootprintRun) => number, suffix: string): FootprintVerdict => {
    const ratios = footprintRatios(result, 'tollgate', of)
    const of2 = (t: FootprintTarget): string => f(median(result.runs.filter((r) => r.target === t).map(unit)), 1)
    return {
      target: FOOTPRINT_TARGETS[i] as string,
      goal: goals[i] as string,
      measured: ratios.length === 0 ? 'no round' : `${spread(ratios)}× (${of2('tollgate')} vs ${of2('bare')} ${suffix})${redis(of)}`,
      verdict: ratios.length === 0 ? 'FAIL' : median(ratios) <= limit ? 'PASS' : 'FAIL'
    }
  }
  // Idle CPU: a ratio of medians, not per round: the bare proxy's idle CPU is near 0 and a per-round ratio would divide by noise.
  const idle = (t: FootprintTarget): number => median(result.runs.filter((r) => r.target === t).map(idlePerMin))
  const idleRatio = idle('bare') === 0 ? (idle('tollgate') === 0 ? 1 : Infinity) : idle('tollgate') / idle('bare')
  // Wall time to ready stretches with whatever else the machine runs; the CPU it took does not, and is printed beside it.
  const ready = ratioVerdict(0, (r) => r.readyMs, 1.0, (r) => r.readyMs, 'ms')
  return [
    { ...ready, measured: `${ready.measured}; CPU to ready ${spread(footprintRatios(result, 'tollgate', (r) => r.readyCpuMs))}×` },
    ratioVerdict(1, (r) => r.rssIdle[1], 1.05, (r) => r.rssIdle[1] / MB, 'MB'),
    {
      target: FOOTPRINT_TARGETS[2],
      goal: goals[2],
      measured: `${f(idleRatio)}× (${f(idle('tollgate'), 1)} vs ${f(idle('bare'), 1)} ms/min, medians; each has ${f(result.timing.idleAtS[1] - result.timing.idleAtS[0], 0)} s of idle with its scrapes)`,
      verdict: idleRatio <= 1.0 ? 'PASS' : 'FAIL'
    },
    ratioVerdict(3, (r) => r.rssAfterLoad, 1.05, (r) => r.rssAfterLoad / MB, 'MB')
  ]
}
