/**
 * The footprint scenario's verdicts (bench/footprint-report.ts), from
 * made-up runs: each target is judged on tollgate's ratio to the bare proxy
 * of the same round (the median over rounds), idle CPU on the ratio of the
 * medians, and a bare proxy that never woke leaves tollgate nothing to spend.
 */
import { test, type TestContext } from 'node:test'
import { FOOTPRINT_TARGETS, footprintVerdicts } from '../../bench/footprint-report.js'
import type { FootprintResult, FootprintRun, FootprintTarget } from '../../bench/scenario-footprint.js'

const MB = 1024 * 1024

function run (round: number, target: FootprintTarget, m: { ready: number, rss60: number, idleMs: number, afterLoad: number }): FootprintRun {
  return {
    round,
    target,
    readyMs: m.ready,
    readyCpuMs: m.ready / 2,
    rssIdle: [m.rss60, m.rss60],
    idle: { cpuMs: m.idleMs, wakeups: 0, scrapeCpuMs: 0, windowS: 30, threads: 7 },
    rssAfterLoad: m.afterLoad
  }
}

function result (runs: FootprintRun[]): FootprintResult {
  return {
    node: { path: '/node', version: '24.22.3' },
    timing: { idleAtS: [30, 60], scrapeEveryS: 15, loadRequests: 3000, settleS: 10, pacedRate: 1000, pacedS: 10, pacedSliceMs: 1000 },
    commands: {},
    runs
  }
}

const verdict = (r: FootprintResult, target: string): string => footprintVerdicts(r).find((v) => v.target === target)?.verdict ?? 'missing'

test('every footprint target gets a verdict, NOT RUN without the scenario', (t: TestContext) => {
  t.assert.deepStrictEqual(footprintVerdicts(undefined).map((v) => [v.target, v.verdict]), FOOTPRINT_TARGETS.map((target) => [target, 'NOT RUN']))
})

test('judged per round against the bare proxy of that round, on the median', (t: TestContext) => {
  const bare = { ready: 500, rss60: 80 * MB, idleMs: 1, afterLoad: 100 * MB }
  const runs = [1, 2, 3].flatMap((round) => [
    run(round, 'bare', { ...bare, ready: 400 + 100 * round }),
    // Ready 0.9× in two rounds of three, 1.2× in one; RSS 1.04× then 1.10× twice.
    run(round, 'tollgate', { ready: (400 + 100 * round) * (round === 2 ? 1.2 : 0.9), rss60: 80 * MB * (round === 1 ? 1.04 : 1.1), idleMs: 1, afterLoad: 104 * MB })
  ])
  const r = result(runs)
  t.assert.strictEqual(verdict(r, 'footprint ready vs bare'), 'PASS')
  t.assert.strictEqual(verdict(r, 'footprint idle RSS at 60 s vs bare'), 'FAIL')
  t.assert.strictEqual(verdict(r, 'footprint idle CPU vs bare'), 'PASS')
  t.assert.strictEqual(verdict(r, 'footprint RSS after load vs bare'), 'PASS')
})

test('idle CPU: a bare proxy that never woke fails any tollgate that did, passes one that did not', (t: TestContext) => {
  const m = { ready: 500, rss60: 80 * MB, afterLoad: 100 * MB }
  t.assert.strictEqual(verdict(result([run(1, 'bare', { ...m, idleMs: 0 }), run(1, 'tollgate', { ...m, idleMs: 0.5 })]), 'footprint idle CPU vs bare'), 'FAIL')
  t.assert.strictEqual(verdict(result([run(1, 'bare', { ...m, idleMs: 0 }), run(1, 'tollgate', { ...m, idleMs: 0 })]), 'footprint idle CPU vs bare'), 'PASS')
  t.assert.strictEqual(verdict(result([run(1, 'bare', { ...m, idleMs: 2 }), run(1, 'tollgate', { ...m, idleMs: 2.2 })]), 'footprint idle CPU vs bare'), 'FAIL')
})
