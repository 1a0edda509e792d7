import { test, type TestContext } from 'node:test'
import { createLimiter } from '../../src/limit/index.js'
import { createMemoryLimiter } from '../../src/limit/memory-limiter.js'
import type { Release } from '../../src/limit/limiter.js'
import type { LimiterRejection } from '../../src/limit/rejection.js'

// Exact edges, on a fake clock: t.mock.timers drives both Date.now and setTimeout.
const T0 = 1_000_000
const base = { requests: 2, windowMs: 1000, maxConcurrent: Infinity, maxQueue: 10, maxWaitMs: 5000 }

interface Outcome { settled: boolean, release?: Release, error?: LimiterRejection }

function track (acquired: Release | Promise<Release>): Outcome {
  const outcome: Outcome = { settled: false }
  Promise.resolve(acquired).then(
    (release) => { Object.assign(outcome, { settled: true, release }) },
    (error: LimiterRejection) => { Object.assign(outcome, { settled: true, error }) }
  )
  return outcome
}

/** Advance fake time, then let the settled promises' callbacks run (setImmediate is not mocked). */
async function advance (t: TestContext, ms: number): Promise<void> {
  t.mock.timers.tick(ms)
  await new Promise((resolve) => setImmediate(resolve))
}

function fakeTime (t: TestContext): () => number {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: T0 })
  return () => Date.now()
}

test('a waiter starts exactly when the oldest start leaves the window, not a millisecond before', async (t: TestContext) => {
  const limiter = createMemoryLimiter(base, { now: fakeTime(t) })
  limiter.acquire()
  await advance(t, 300)
  limiter.acquire()
  const third = track(limiter.acquire())
  const fourth = track(limiter.acquire())

  await advance(t, 699)
  t.assert.strictEqual(third.settled, false)
  await advance(t, 1)
  t.assert.ok(third.release !== undefined, 'started at T0 + window')
  t.assert.strictEqual(fourth.settled, false)
  await advance(t, 299)
  t.assert.strictEqual(fourth.settled, false)
  await advance(t, 1)
  t.assert.ok(fourth.release !== undefined, 'started at T0 + 300 + window')
  limiter.close()
})

test('maxWait is exact, and a waiter whose unit frees at its deadline is served, not refused', async (t: TestContext) => {
  const limiter = createMemoryLimiter({ ...base, requests: 1, maxWaitMs: 1000 }, { now: fakeTime(t) })
  limiter.acquire()
  const atDeadline = track(limiter.acquire())
  await advance(t, 1)
  const behind = track(limiter.acquire())
  await advance(t, 998)
  t.assert.deepStrictEqual([atDeadline.settled, behind.settled], [false, false])

  await advance(t, 1)
  t.assert.ok(atDeadline.release !== undefined, 'its unit came back at its deadline: served')
  t.assert.strictEqual(behind.settled, false)
  await advance(t, 1)
  t.assert.strictEqual(behind.error?.code, 'TG_QUEUE_TIMEOUT', 'refused at exactly maxWait')
  t.assert.strictEqual(behind.error?.message, 'the request waited 1000 ms for a rate-limit slot')
  t.assert.strictEqual(behind.error?.retryAfterMs, 1000, 'the next unit is back in 999 ms, floored to 1 s')
  t.assert.strictEqual(limiter.status().queued, 0)
  limiter.close()
})

test('when a pause ends on a full window, the waiter still waits for its unit', async (t: TestContext) => {
  const limiter = createMemoryLimiter({ ...base, requests: 1 }, { now: fakeTime(t) })
  limiter.acquire()
  limiter.pauseUntil(T0 + 500)
  const waiter = track(limiter.acquire())
  await advance(t, 500)
  t.assert.strictEqual(waiter.settled, false)
  await advance(t, 499)
  t.assert.strictEqual(waiter.settled, false)
  await advance(t, 1)
  t.assert.ok(waiter.release !== undefined)
  limiter.close()
})

test('retryAfterMs is when the next start could happen, and never below 1 s', async (t: TestContext) => {
  const now = fakeTime(t)
  const window = createMemoryLimiter({ ...base, requests: 1, windowMs: 5000, maxQueue: 0 }, { now })
  window.acquire()
  const paused = createMemoryLimiter({ ...base, maxQueue: 0 }, { now })
  paused.pauseUntil(T0 + 8500)
  const concurrency = createMemoryLimiter({ ...base, maxConcurrent: 1, maxQueue: 0 }, { now })
  concurrency.acquire()
  await advance(t, 1000)

  const refusals = [window, paused, concurrency].map((limiter) => track(limiter.acquire()))
  await advance(t, 0)
  t.assert.deepStrictEqual(refusals.map((r) => [r.error?.code, r.error?.retryAfterMs]), [
    ['TG_QUEUE_FULL', 4000],
    ['TG_QUEUE_FULL', 7500],
    ['TG_QUEUE_FULL', 1000]
  ], 'window: unit back at T0 + 5000; pause: ends at T0 + 8500; maxConcurrent alone: the floor')
})

test('programmer errors in the config throw TypeError naming the option', (t: TestContext) => {
  t.assert.throws(() => createMemoryLimiter({ ...base, requests: 0 }), /'requests'/)
  t.assert.throws(() => createMemoryLimiter({ ...base, windowMs: -1 }), /'windowMs'/)
  t.assert.throws(() => createMemoryLimiter({ ...base, maxConcurrent: 0 }), /'maxConcurrent'/)
  t.assert.throws(() => createMemoryLimiter({ ...base, maxQueue: 1.5 }), /'maxQueue'/)
  t.assert.throws(() => createMemoryLimiter({ ...base, maxWaitMs: Number.NaN }), /'maxWaitMs'/)
})

test('no rateLimit: no window and no bound, synchronous, but a 429 pause still holds the whole upstream', async (t: TestContext) => {
  const limiter = createLimiter(undefined, { now: fakeTime(t) })
  t.after(() => limiter.close())
  const held: Release[] = []
  for (let i = 0; i < 10_000; i++) {
    const release = limiter.acquire()
    t.assert.strictEqual(typeof release, 'function', 'never waits while not paused')
    held.push(release as Release)
  }
  limiter.observe({ 'x-ratelimit-remaining': '0' })
  t.assert.strictEqual(typeof limiter.acquire(), 'function', 'x-ratelimit budgets do not apply without a window')
  limiter.pauseUntil(T0 + 2000)
  const paused = track(limiter.acquire())
  await advance(t, 1999)
  t.assert.strictEqual(paused.settled, false, 'no start during the pause')
  await advance(t, 1)
  t.assert.strictEqual(typeof paused.release, 'function', 'starts when the pause ends')
  for (const release of held) release()
  t.assert.strictEqual(limiter.status().counters.observed429, 1)
  t.assert.strictEqual(limiter.status().remaining, Infinity)
})
