import { test, type TestContext } from 'node:test'
import { createLimiter } from '../../src/limit/index.js'
import type { Limiter, Permit } from '../../src/limit/limiter.js'
import { track } from '../helpers/acquire-outcome.js'

// Exact edges, on a fake clock: t.mock.timers drives both Date.now and setTimeout.
const T0 = 1_000_000
const base = { requests: 2, windowMs: 1000, maxConcurrent: Infinity, maxQueue: 10, maxWaitMs: 5000 }

/** Advance fake time, then let the settled promises' callbacks run (setImmediate is not mocked). */
async function advance (t: TestContext, ms: number): Promise<void> {
  t.mock.timers.tick(ms)
  await new Promise((resolve) => setImmediate(resolve))
}

/** A start the upstream answers at once (its unit is stamped now); it must not have to wait. */
function take (limiter: Limiter): Permit {
  const permit = limiter.acquire()
  if (permit instanceof Promise) throw new Error('expected a start without waiting')
  permit.answered()
  return permit
}

function fakeTime (t: TestContext): () => number {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: T0 })
  return () => Date.now()
}

test('a waiter starts exactly when the oldest start leaves the window, not a millisecond before', async (t: TestContext) => {
  const limiter = createLimiter(base, { now: fakeTime(t) })
  take(limiter)
  await advance(t, 300)
  take(limiter)
  const third = track(limiter.acquire())
  const fourth = track(limiter.acquire())

  await advance(t, 699)
  t.assert.strictEqual(third.settled, false)
  await advance(t, 1)
  t.assert.ok(third.permit !== undefined, 'started at T0 + window')
  t.assert.strictEqual(fourth.settled, false)
  await advance(t, 299)
  t.assert.strictEqual(fourth.settled, false)
  await advance(t, 1)
  t.assert.ok(fourth.permit !== undefined, 'started at T0 + 300 + window')
  limiter.close()
})

test('maxWait is exact, and a waiter whose unit frees at its deadline is served, not refused', async (t: TestContext) => {
  const limiter = createLimiter({ ...base, requests: 1, maxWaitMs: 1000 }, { now: fakeTime(t) })
  take(limiter)
  const atDeadline = track(limiter.acquire())
  await advance(t, 1)
  const behind = track(limiter.acquire())
  await advance(t, 998)
  t.assert.deepStrictEqual([atDeadline.settled, behind.settled], [false, false])

  await advance(t, 1)
  t.assert.ok(atDeadline.permit !== undefined, 'its unit came back at its deadline: served')
  atDeadline.permit?.answered()
  t.assert.strictEqual(behind.settled, false)
  await advance(t, 1)
  t.assert.strictEqual(behind.error?.code, 'TG_QUEUE_TIMEOUT', 'refused at exactly maxWait')
  t.assert.strictEqual(behind.error?.message, 'the request waited 1000 ms for a rate-limit slot')
  t.assert.strictEqual(behind.error?.retryAfterMs, 1000, 'the next unit is back in 999 ms, floored to 1 s')
  t.assert.strictEqual(limiter.status().queued, 0)
  limiter.close()
})

test('when a pause ends on a full window, the waiter still waits for its unit', async (t: TestContext) => {
  const limiter = createLimiter({ ...base, requests: 1 }, { now: fakeTime(t) })
  take(limiter)
  limiter.pauseFor(500)
  const waiter = track(limiter.acquire())
  await advance(t, 500)
  t.assert.strictEqual(waiter.settled, false)
  await advance(t, 499)
  t.assert.strictEqual(waiter.settled, false)
  await advance(t, 1)
  t.assert.ok(waiter.permit !== undefined)
  limiter.close()
})

test('retryAfterMs is when the next start could happen, and never below 1 s', async (t: TestContext) => {
  const now = fakeTime(t)
  const window = createLimiter({ ...base, requests: 1, windowMs: 5000, maxQueue: 0 }, { now })
  take(window)
  const paused = createLimiter({ ...base, maxQueue: 0 }, { now })
  paused.pauseFor(8500)
  const concurrency = createLimiter({ ...base, maxConcurrent: 1, maxQueue: 0 }, { now })
  take(concurrency)
  await advance(t, 1000)

  const refusals = [window, paused, concurrency].map((limiter) => track(limiter.acquire()))
  await advance(t, 0)
  t.assert.deepStrictEqual(refusals.map((r) => [r.error?.code, r.error?.retryAfterMs]), [
    ['TG_QUEUE_FULL', 4000],
    ['TG_UPSTREAM_PAUSED', 7500],
    ['TG_QUEUE_FULL', 1000]
  ], 'window: unit back at T0 + 5000; pause: ends at T0 + 8500, after maxWait, so no queue place is asked; maxConcurrent alone: the floor')
})

test('programmer errors in the config throw TypeError naming the option', (t: TestContext) => {
  t.assert.throws(() => createLimiter({ ...base, requests: 0 }), /'requests'/)
  t.assert.throws(() => createLimiter({ ...base, windowMs: -1 }), /'windowMs'/)
  t.assert.throws(() => createLimiter({ ...base, maxConcurrent: 0 }), /'maxConcurrent'/)
  t.assert.throws(() => createLimiter({ ...base, maxQueue: 1.5 }), /'maxQueue'/)
  t.assert.throws(() => createLimiter({ ...base, maxWaitMs: Number.NaN }), /'maxWaitMs'/)
})

test('no rateLimit: no window and no bound, synchronous, but a 429 pause still holds the whole upstream', async (t: TestContext) => {
  const limiter = createLimiter(undefined, { now: fakeTime(t) })
  t.after(() => limiter.close())
  const held: Permit[] = []
  for (let i = 0; i < 10_000; i++) {
    const permit = limiter.acquire()
    t.assert.ok(!(permit instanceof Promise), 'never waits while not paused')
    held.push(permit as Permit)
  }
  limiter.observe({ 'x-ratelimit-remaining': '0' })
  t.assert.ok(!(limiter.acquire() instanceof Promise), 'x-ratelimit budgets do not apply without a window')
  limiter.pauseFor(2000)
  const paused = track(limiter.acquire())
  await advance(t, 1999)
  t.assert.strictEqual(paused.settled, false, 'no start during the pause')
  await advance(t, 1)
  t.assert.strictEqual(typeof paused.permit?.release, 'function', 'starts when the pause ends')
  for (const permit of held) permit.release()
  t.assert.strictEqual(limiter.status().counters.observed429, 1)
  t.assert.strictEqual(limiter.status().remaining, Infinity)
})

test('a unit answered late frees one window after the answer, not after the acquire', async (t: TestContext) => {
  const limiter = createLimiter({ ...base, requests: 1 }, { now: fakeTime(t) })
  const first = limiter.acquire() as Permit
  const waiter = track(limiter.acquire())
  await advance(t, 300)
  first.answered()
  t.assert.strictEqual(limiter.status().remaining, 0)
  await advance(t, 700)
  t.assert.strictEqual(waiter.settled, false, 'not at T0 + window: the vendor may have seen the first request as late as T0 + 300')
  await advance(t, 299)
  t.assert.strictEqual(waiter.settled, false)
  await advance(t, 1)
  t.assert.ok(waiter.permit !== undefined, 'started at T0 + 300 + window')
  first.release()
  limiter.close()
})

test('a unit never answered is held until release(), which stamps it', async (t: TestContext) => {
  const limiter = createLimiter({ ...base, requests: 1, maxWaitMs: 60_000 }, { now: fakeTime(t) })
  const first = limiter.acquire() as Permit
  const waiter = track(limiter.acquire())
  await advance(t, 2500)
  t.assert.strictEqual(waiter.settled, false, 'held past any window while unanswered')
  t.assert.strictEqual(limiter.status().remaining, 0)
  first.release()
  t.assert.strictEqual(limiter.status().running, 0, 'the slot is free at once')
  await advance(t, 999)
  t.assert.strictEqual(waiter.settled, false, 'the unit is not: it frees one window after the release')
  await advance(t, 1)
  t.assert.ok(waiter.permit !== undefined, 'started at release + window')
  limiter.close()
})

test('every unit pending and a waiter queued: an answer at T starts it at exactly T + window', async (t: TestContext) => {
  const setTimeoutSpy = t.mock.method(globalThis, 'setTimeout')
  const limiter = createLimiter(base, { now: fakeTime(t) })
  const a = limiter.acquire() as Permit
  const b = limiter.acquire() as Permit
  await advance(t, 100)
  const waiter = track(limiter.acquire())
  await advance(t, 1200)
  t.assert.strictEqual(waiter.settled, false, 'nothing answered: nothing frees')
  const timersBefore = setTimeoutSpy.mock.callCount()
  t.assert.ok(timersBefore <= 2, `${timersBefore} timers in 1.2 windows with nothing to do: no spinning`)

  a.answered()
  await advance(t, 999)
  t.assert.strictEqual(waiter.settled, false, 'not before T + window')
  await advance(t, 1)
  t.assert.ok(waiter.permit !== undefined, 'started at exactly T + window')
  t.assert.ok(setTimeoutSpy.mock.callCount() - timersBefore <= 2, 'a timer or two, not a poll')
  b.release()
  limiter.close()
})

test('answered() and release() count once however often they are called', async (t: TestContext) => {
  const limiter = createLimiter({ ...base, requests: 3, maxConcurrent: 3 }, { now: fakeTime(t) })
  const a = limiter.acquire() as Permit
  const b = limiter.acquire() as Permit
  a.answered()
  a.answered()
  await advance(t, 400)
  a.answered()
  b.release()
  b.release()
  b.answered()
  a.release()
  a.release()
  t.assert.deepStrictEqual([limiter.status().running, limiter.status().remaining], [0, 1], 'two slots freed, two units stamped')
  await advance(t, 600)
  t.assert.strictEqual(limiter.status().remaining, 2, 'a was stamped at T0, by its first answered()')
  await advance(t, 399)
  t.assert.strictEqual(limiter.status().remaining, 2, 'b was stamped at T0 + 400, by its first release(), not by a second answered() of a')
  await advance(t, 1)
  t.assert.strictEqual(limiter.status().remaining, 3)
  t.assert.strictEqual(limiter.status().counters.started, 2)
  limiter.close()
})

test('withdraw: a start that never reached the upstream gives its unit and its slot back unstamped', async (t: TestContext) => {
  const now = fakeTime(t)
  const limiter = createLimiter({ ...base, requests: 1, maxConcurrent: 1 }, { now })
  t.after(() => limiter.close())
  const first = limiter.acquire() as Permit
  const waiting = track(limiter.acquire())
  first.withdraw()
  first.release()
  await advance(t, 0)
  t.assert.ok(waiting.permit !== undefined, 'the waiter starts at once: the unit came back without a window')
  t.assert.strictEqual(limiter.status().running, 1)
  waiting.permit?.answered()
  waiting.permit?.withdraw()
  t.assert.deepStrictEqual([limiter.status().running, limiter.status().remaining], [0, 0], 'after answered(), withdraw only releases: the stamp stays')
})

test('pauseFor: an arrival whose maxWait ends before the pause is refused at once with TG_UPSTREAM_PAUSED', async (t: TestContext) => {
  const now = fakeTime(t)
  const limiter = createLimiter({ ...base, maxWaitMs: 3000 }, { now })
  t.after(() => limiter.close())
  limiter.pauseFor(10_000)
  const refused = track(limiter.acquire())
  await advance(t, 0)
  t.assert.strictEqual(refused.error?.code, 'TG_UPSTREAM_PAUSED')
  t.assert.strictEqual(refused.error?.retryAfterMs, 10_000)
  t.assert.deepStrictEqual([limiter.status().queued, limiter.status().counters.rejected], [0, 1])
  await advance(t, 7500)
  const queued = track(limiter.acquire())
  await advance(t, 2500)
  t.assert.ok(queued.permit !== undefined, 'a pause within maxWait still queues, and starts when it ends')
})

test('pauseFor: waiters whose maxWait ends before a new pause does leave at once; the others stay', async (t: TestContext) => {
  const now = fakeTime(t)
  const limiter = createLimiter({ ...base, requests: 1, windowMs: 3500, maxWaitMs: 3000 }, { now })
  t.after(() => limiter.close())
  take(limiter)
  const early = track(limiter.acquire())
  await advance(t, 2000)
  const late = track(limiter.acquire())
  // early's deadline is T0+3000, late's T0+5000; the pause ends at T0+4000.
  limiter.pauseFor(2000)
  await advance(t, 0)
  t.assert.strictEqual(early.error?.code, 'TG_UPSTREAM_PAUSED')
  t.assert.strictEqual(late.settled, false)
  await advance(t, 2000)
  t.assert.ok(late.permit !== undefined, 'starts when the pause ends')
})

test('one clock: a wall-clock step of ±1 h neither ends nor stretches a 5 s pause', async (t: TestContext) => {
  let mono = 0
  let wall = T0
  const limiter = createLimiter({ ...base, maxWaitMs: 10_000 }, { now: () => mono, wallNow: () => wall })
  t.after(() => limiter.close())
  limiter.pauseFor(5000)
  wall += 3_600_000
  t.assert.strictEqual(limiter.tryAcquire?.(), undefined, 'still paused after the wall clock jumped forward')
  t.assert.strictEqual(limiter.status().pausedUntil, wall + 5000, 'status() reports the end on the wall clock')
  wall -= 7_200_000
  mono += 4999
  t.assert.strictEqual(limiter.tryAcquire?.(), undefined, 'still paused after it jumped back')
  mono += 1
  t.assert.ok(limiter.tryAcquire?.() !== undefined, 'free exactly 5 s later on the monotonic clock')
})

test('a retry waits only for what is left of its maxWait, even queued behind earlier arrivals', async (t: TestContext) => {
  const limiter = createLimiter({ ...base, requests: 1, windowMs: 10_000, maxWaitMs: 5000 }, { now: fakeTime(t) })
  take(limiter)
  const first = track(limiter.acquire())
  const retry = track(limiter.acquire(undefined, 800))
  const later = track(limiter.acquire())
  await advance(t, 799)
  t.assert.deepStrictEqual([first.settled, retry.settled, later.settled], [false, false, false])
  await advance(t, 1)
  t.assert.strictEqual(retry.error?.code, 'TG_QUEUE_TIMEOUT', 'the retry\'s own deadline, though earlier waiters are still queued')
  t.assert.deepStrictEqual([first.settled, later.settled], [false, false])
  t.assert.strictEqual(limiter.status().queued, 2)
  await advance(t, 4200)
  t.assert.deepStrictEqual([first.error?.code, later.error?.code], ['TG_QUEUE_TIMEOUT', 'TG_QUEUE_TIMEOUT'], 'the others keep their full maxWait')
  limiter.close()
})

test('a pause set while a short-budget retry waits behind others turns away exactly the ones it outlasts', async (t: TestContext) => {
  const limiter = createLimiter({ ...base, requests: 1, windowMs: 10_000, maxWaitMs: 5000 }, { now: fakeTime(t) })
  take(limiter)
  const first = track(limiter.acquire())
  const retry = track(limiter.acquire(undefined, 1000))
  limiter.pauseFor(2000)
  await advance(t, 0)
  t.assert.strictEqual(retry.error?.code, 'TG_UPSTREAM_PAUSED')
  t.assert.strictEqual(retry.error?.retryAfterMs, 2000)
  t.assert.strictEqual(first.settled, false, 'its deadline is after the pause: it keeps waiting')
  limiter.close()
})
