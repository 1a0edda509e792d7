import assert from 'node:assert/strict'
import { test } from 'node:test'
import { verdicts, type Results } from '../../bench/report.js'
import type { ThroughputRun } from '../../bench/scenario-throughput.js'
import type { LoadResult } from '../../bench/load-result.js'

const MB = 1024 * 1024

function run (target: string, connections: number, round: number, rps: number): ThroughputRun {
  const result: LoadResult = { responses: rps, ok: rps, non2xx: 0, errors: 0, timeouts: 0, elapsedMs: 1000, rps, p50: 1, p90: 1.5, p99: 2, p999: 3, max: 4, cpuUs: 0 }
  return { load: 'get', connections, round, target, result, cpuPerRequest: 100, foreignCpu: 0 }
}

/** Per round, bare at 1000 req/s and tollgate at the given rates, at 10 and 100 connections. */
function runs (tollgate: readonly number[]): ThroughputRun[] {
  return [10, 100].flatMap((c) => tollgate.flatMap((rps, i) => [run('bare', c, i + 1, 1000), run('tollgate', c, i + 1, rps)]))
}

function results (alternating: readonly number[], paired: readonly number[], rss = 100 * MB): Results {
  const memory = { rss, peakRss: 150 * MB }
  return {
    throughput: {
      runs: runs(alternating),
      paired: runs(paired),
      paced: [],
      memory: [{ target: 'tollgate', idle: memory, atEnd: { rss: 130 * MB, peakRss: 150 * MB }, proc: memory, heapUsed: 20 * MB }]
    }
  }
}

const verdictOf = (r: Results, target: string): { measured: string, verdict: string } => {
  const v = verdicts(r).find((x) => x.target === target)
  assert.ok(v !== undefined, target)
  return v
}

test('the throughput verdict is judged on the paired rounds, the alternating ones shown beside', () => {
  // Alternating rounds say fail (median 0.80), paired ones pass (median 0.95).
  const v = verdictOf(results([800, 700, 900], [950, 940, 960]), 'throughput vs bare, 10 conns')
  assert.equal(v.verdict, 'PASS')
  assert.match(v.measured, /^0\.95 \(0\.94…0\.96\)× paired; 0\.80 \(0\.70…0\.90\)× alternating$/)
  // And the other way round.
  assert.equal(verdictOf(results([950, 940, 960], [800, 700, 900]), 'throughput vs bare, 100 conns').verdict, 'FAIL')
})

test('without paired rounds the alternating ones are judged', () => {
  const r = results([950, 940, 960], [])
  const v = verdictOf(r, 'throughput vs bare, 10 conns')
  assert.equal(v.verdict, 'PASS')
  assert.equal(v.measured, '0.95 (0.94…0.96)× alternating')
})

test('RSS after the run is judged on the settled figure, with the figure as the load stopped beside it', () => {
  const pass = verdictOf(results([950], [950], 107 * MB), 'RSS after the run')
  assert.equal(pass.verdict, 'PASS')
  assert.match(pass.measured, /^107\.0 MB settled \(as the load stopped 130\.0 MB, peak 150\.0 MB\)$/)
  assert.equal(verdictOf(results([950], [950], 121 * MB), 'RSS after the run').verdict, 'FAIL')
})
