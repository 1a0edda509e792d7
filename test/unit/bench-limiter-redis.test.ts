import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { test } from 'node:test'
import { maxPerTag, outageWindowCheck, perWindow, scriptNames, summariseSlowlog, usedFraction, usedSegments, type SlowEntry } from '../../bench/limiter-redis-stats.js'
import { limiterRedisVerdicts, TARGETS, verdicts } from '../../bench/report.js'
import type { LimiterRedisRun } from '../../bench/scenario-limiter-redis.js'
import { windowCheck } from '../../bench/stats.js'
import { maxInAnyWindow } from '../helpers/window.js'

/** `count` arrivals evenly from `from`, `gap` ms apart. */
const even = (from: number, count: number, gap: number): number[] => Array.from({ length: count }, (_, i) => from + i * gap)

test('without an outage the check is the plain sliding-window check', () => {
  // 3 per 100 ms, then a burst of 5 within 10 ms.
  const starts = [...even(0, 9, 34), 400, 402, 404, 406, 408]
  const plain = windowCheck(starts, 3, 100)
  const check = outageWindowCheck(starts, 3, 100, undefined)
  assert.equal(check.violations, plain.violations)
  assert.equal(check.maxOutside, maxInAnyWindow(starts, 100))
  assert.equal(check.maxInside, 0)
})

test('windows with an arrival in the outage are counted apart, and judged windows end before it or start after it', () => {
  // N = 3 per 100 ms: 3 per window before; 9 within the outage [500, 600]; 3 per window after.
  const before = even(0, 12, 34)
  const during = even(510, 9, 10)
  const after = even(700, 12, 34)
  const check = outageWindowCheck([...after, ...during, ...before], 3, 100, { from: 500, to: 600 })
  assert.equal(check.violations, 0)
  assert.equal(check.maxOutside, 3)
  assert.equal(check.maxInside, 9)
  // One extra start right after the outage span breaks the window after it.
  const broken = outageWindowCheck([...before, ...during, ...after, 701], 3, 100, { from: 500, to: 600 })
  assert.equal(broken.maxOutside, 4)
  assert.ok(broken.violations > 0)
})

test('an outage with no arrival in it sets nothing apart', () => {
  // Nothing started during the outage: a window across it is judged like any other.
  const starts = [450, 470, 490, 610, 620]
  const check = outageWindowCheck(starts, 3, 200, { from: 500, to: 600 })
  assert.equal(check.maxInside, 0)
  assert.equal(check.maxOutside, 5)
  assert.equal(check.violations, 2)
})

test('N used counts whole windows of each segment; the segments skip the outage and the window after it', () => {
  const starts = [...even(0, 40, 25), ...even(1000, 100, 10), ...even(2100, 40, 25), ...even(3100, 8, 125)]
  // 10 per 250 ms before and after; the outage [1000, 2000] (over-full), a window of write-back.
  const segments = usedSegments(starts, 250, { from: 1000, to: 2000 })
  assert.deepEqual(segments, [{ from: 0, to: 1000 }, { from: 2250, to: 3975 }])
  const used = usedFraction(starts, 10, 250, segments)
  // Before: 4 windows of 10; after, from 2250, 6 whole windows (to 3750): 34 of the dense arrivals, 6 of the sparse ones.
  assert.equal(used.windows, 10)
  assert.equal(used.counted, 40 + 34 + 6)
  assert.equal(used.fraction, 0.8)
  assert.equal(usedFraction([], 10, 250, []).windows, 0)
  assert.ok(Number.isNaN(usedFraction([], 10, 250, []).fraction))
  assert.deepEqual(usedSegments([5, 10], 250, undefined), [{ from: 5, to: 10 }])
})

test('arrivals per window and per tag', () => {
  assert.deepEqual(perWindow([0, 1, 99, 100, 250, 299, 300], 100, 0, 300), [3, 1, 2])
  const perTag = maxPerTag([0, 10, 20, 30, 500], [0, 1, 0, 0, 1], 100)
  assert.deepEqual([...perTag], [[0, 3], [1, 1]])
})

const entry = (micros: number, command: string, arg: string, at = 0): SlowEntry => ({ id: 0, at, micros, command, arg })

test('the SLOWLOG summary keeps script runs, names them, and sets apart the ones a SIGSTOP caught', () => {
  const acquire = 'return 1'
  const names = scriptNames({ ACQUIRE: acquire, NOT_A_SCRIPT: 42 })
  const sha = createHash('sha1').update(acquire).digest('hex')
  assert.deepEqual([...names], [[sha, 'ACQUIRE']])
  const summary = summariseSlowlog([
    entry(40, 'EVALSHA', sha), entry(60, 'EVALSHA', sha), entry(1500, 'EVALSHA', sha, 1_800_000_007),
    entry(30, 'EVALSHA', 'ffffffffffffffffffff'), entry(900, 'EVAL', 'return 2'), entry(20, 'FCALL', 'acquire'),
    // Not scripts: never counted, however long.
    entry(50_000, 'MEMORY', 'USAGE'), entry(7, 'SCAN', '0'),
    // Caught by a 2.5 s SIGSTOP.
    entry(2_400_000, 'EVALSHA', sha)
  ], names, 2_500_000)
  assert.equal(summary.entries, 9)
  assert.equal(summary.stalled, 1)
  assert.equal(summary.all.count, 6)
  assert.equal(summary.all.max, 1500)
  assert.equal(summary.all.over1ms, 1)
  assert.deepEqual(summary.all.top.map((e) => e.micros), [1500, 900, 60, 40, 30])
  assert.equal(summary.all.top[0]?.at, 1_800_000_007)
  const byName = new Map(summary.byScript.map((s) => [s.name, s]))
  assert.equal(byName.get('ACQUIRE')?.count, 3)
  assert.equal(byName.get('EVALSHA ffffffff')?.count, 1)
  assert.equal(byName.get('EVAL')?.max, 900)
  assert.equal(byName.get('FCALL acquire')?.count, 1)
  // Without a stop nothing is set apart.
  assert.equal(summariseSlowlog([entry(2_400_000, 'EVALSHA', sha)], names).stalled, 0)
})

function run (change: Partial<LimiterRedisRun> = {}): LimiterRedisRun {
  const used = { fraction: 0.99, windows: 10, counted: 1980 }
  const times = { name: 'all scripts', count: 1000, p50: 30, p99: 200, p999: 400, max: 800, over1ms: 0, top: [{ micros: 800, at: 0 }] }
  return {
    tree: 'tollgate',
    redisVersion: '7.0.15',
    redisScheduling: 'SCHED_FIFO 1 (chrt)',
    requests: 200,
    windowMs: 1000,
    replicas: 3,
    connections: 50,
    durationS: 14,
    arrivals: 2600,
    firstArrivalMs: 100,
    firstArrivalEpochMs: 1_800_000_000_000,
    peakPerSecond: 200,
    outage: { stopMs: 5000, resumeMs: 7500, spanEndMs: 8000 },
    violations: 0,
    maxOutside: 200,
    maxInside: 190,
    used,
    usedBefore: used,
    usedAfter: used,
    perWindow: [200, 200],
    replicaFigures: [0, 1, 2].map((tag) => ({
      tag, arrivals: 860, maxInWindow: 150, clientOk: 860, clientFailed: 0, clientTimeouts: 0, clientP50: 700, clientP99: 900, started: 860, rejected: 0, lostAfterMs: 1000, backAfterMs: 2700, outages: 1, cpuMsPerArrival: 0.3
    })),
    slowlog: { all: times, byScript: [times], stalled: 0, entries: 5000 },
    memory: [{ atMs: 13_500, keys: 3, bytes: 20_000, largest: undefined }],
    memoryAtEnd: { atMs: 13_500, keys: 3, bytes: 20_000, largest: undefined, pendingUnits: 2 },
    cpuUsPerArrival: { tollgates: 300, redis: 50, upstream: 40, load: 80 },
    loadS: 14,
    ...change
  }
}

const verdictOf = (r: LimiterRedisRun, criterion: string): boolean => {
  const v = limiterRedisVerdicts(r).find((x) => x.criterion === criterion)
  assert.ok(v !== undefined, criterion)
  return v.ok
}

test('limiter-redis verdicts: each criterion at its bound', () => {
  assert.ok(limiterRedisVerdicts(run()).every((v) => v.ok))
  assert.equal(verdictOf(run({ used: { fraction: 0.979, windows: 10, counted: 1958 } }), 'N used'), false)
  assert.equal(verdictOf(run({ used: { fraction: NaN, windows: 0, counted: 0 } }), 'N used'), false)
  assert.equal(verdictOf(run({ violations: 1 }), 'windows over N'), false)
  assert.equal(verdictOf(run({ maxOutside: 201 }), 'windows over N'), false)
  // The outage promise: each replica at its share, so N in all (issue 17).
  assert.equal(verdictOf(run({ maxInside: 200 }), 'outage windows'), true)
  assert.equal(verdictOf(run({ maxInside: 201 }), 'outage windows'), false)
  const slow = (max: number, count = 1000): LimiterRedisRun => run({ slowlog: { ...run().slowlog, all: { ...run().slowlog.all, max, count } } })
  assert.equal(verdictOf(slow(1000), 'SLOWLOG max'), true)
  assert.equal(verdictOf(slow(1001), 'SLOWLOG max'), false)
  assert.equal(verdictOf(slow(10, 0), 'SLOWLOG max'), false)
  const memory = (bytes: number): LimiterRedisRun => run({ memory: [{ atMs: 1, keys: 3, bytes, largest: undefined }] })
  assert.equal(verdictOf(memory(64 * 1024), 'MEMORY USAGE'), true)
  assert.equal(verdictOf(memory(64 * 1024 + 1), 'MEMORY USAGE'), false)
  assert.equal(verdictOf(run({ memory: [] }), 'MEMORY USAGE'), false)
})

test('the limiter-redis targets: judged on this tree\'s runs, NOT RUN when skipped', () => {
  const redisTargets = TARGETS.filter((t) => t.startsWith('limiter-redis '))
  assert.equal(redisTargets.length, 10)
  const judged = verdicts({ limiterRedis: { runs: [run(), run({ tree: 'candidate', requests: 100_000, windowMs: 60_000, violations: 5 })] } })
  const row = (target: string): { verdict: string, measured: string } | undefined => judged.find((v) => v.target === target)
  assert.equal(row('limiter-redis windows over N, 200 per 1 s')?.verdict, 'PASS')
  // The candidate's run is not judged.
  assert.equal(row('limiter-redis windows over N, 100,000 per 60 s')?.verdict, 'NOT RUN')
  const skipped = verdicts({ limiterRedis: { skipped: 'redis-server not found', runs: [] } })
  for (const target of redisTargets) {
    const v = skipped.find((x) => x.target === target)
    assert.equal(v?.verdict, 'NOT RUN')
    assert.equal(v?.measured, 'redis-server not found')
  }
})
