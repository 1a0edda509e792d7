/** What a load process (load.ts, paced.ts) reports for one target, and how it is summed up. */
import type { RecordableHistogram } from 'node:perf_hooks'

export interface LoadResult {
  readonly responses: number
  readonly ok: number
  readonly non2xx: number
  readonly errors: number
  readonly timeouts: number
  readonly elapsedMs: number
  readonly rps: number
  /** Milliseconds, from the µs histogram. */
  readonly p50: number
  readonly p90: number
  readonly p99: number
  readonly p999: number
  readonly max: number
  /** CPU µs this load process used, its startup included. */
  readonly cpuUs: number
  readonly series?: { readonly at: number[], readonly latency: number[] }
}

/** From a histogram of 2xx latencies in µs and the run's counts. */
export function summariseLoad (histogram: RecordableHistogram, counts: { ok: number, non2xx: number, errors: number, timeouts: number, elapsedMs: number }): LoadResult {
  const { ok, elapsedMs } = counts
  const ms = (percentile: number): number => ok === 0 ? NaN : histogram.percentile(percentile) / 1000
  return {
    responses: ok + counts.non2xx,
    ok,
    non2xx: counts.non2xx,
    errors: counts.errors,
    timeouts: counts.timeouts,
    elapsedMs,
    rps: ok / (elapsedMs / 1000),
    p50: ms(50),
    p90: ms(90),
    p99: ms(99),
    p999: ms(99.9),
    max: ok === 0 ? NaN : histogram.max / 1000,
    cpuUs: (({ user, system }) => user + system)(process.cpuUsage())
  }
}
