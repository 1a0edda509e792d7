import { setTimeout as sleep } from 'node:timers/promises'
import { createLimiter } from '../../src/limit/index.js'
import { test, type TestContext } from 'node:test'
import type { Limiter } from '../../src/limit/limiter.js'
import { LATE_SLACK_MS } from '../helpers/timing.js'

/**
 * Epoch ms at sub-ms resolution, frozen for the rest of the current macrotask
 * (its microtasks included). The limiter decides a start inside a timer
 * callback and the test's `await` resumes in that callback's microtasks, so
 * what the test records is exactly the time the limiter used: the window
 * property can be checked with no tolerance at all.
 */
function turnClock (): () => number {
  let frozen: number | undefined
  const thaw = (): void => { frozen = undefined }
  return () => {
    if (frozen === undefined) {
      frozen = performance.timeOrigin + performance.now()
      setImmediate(thaw)
    }
    return frozen
  }
}

/** For every i: starts[i + requests] - starts[i] >= windowMs. Late is allowed, early never. */
function assertSlidingWindow (t: TestContext, starts: readonly number[], requests: number, windowMs: number): void {
  for (let i = 0; i + requests < starts.length; i++) {
    const gap = (starts[i + requests] as number) - (starts[i] as number)
    t.assert.ok(gap >= windowMs, `starts ${i} and ${i + requests} are only ${gap.toFixed(3)} ms apart`)
  }
}

/**
 * Acquire, note the time, answer and release at once (an upstream that
 * answers instantly: the unit is stamped at the start; concurrency is not
 * under test here).
 */
async function start (limiter: Limiter, now: () => number): Promise<number> {
  const permit = await limiter.acquire()
  const at = now()
  permit.answered()
  permit.release()
  return at
}

const LATE_MS = LATE_SLACK_MS

test('a burst: never more than `requests` per window, each backlog batch as soon as units free', async (t: TestContext) => {
  const now = turnClock()
  const requests = 5
  const windowMs = 300
  const limiter = createLimiter({ requests, windowMs, maxConcurrent: Infinity, maxQueue: 100, maxWaitMs: 10_000 }, { now })
  t.after(() => limiter.close())

  const starts = await Promise.all(Array.from({ length: 4 * requests }, () => start(limiter, now)))

  t.assert.deepStrictEqual(starts, [...starts].sort((a, b) => a - b), 'served in arrival order')
  assertSlidingWindow(t, starts, requests, windowMs)
  for (let k = requests; k < starts.length; k++) {
    const late = (starts[k] as number) - ((starts[k - requests] as number) + windowMs)
    t.assert.ok(late < LATE_MS, `start ${k} came ${late.toFixed(1)} ms after its unit freed`)
  }
  const { counters, queued, running } = limiter.status()
  t.assert.deepStrictEqual({ started: counters.started, waited: counters.waited, queued, running }, { started: 20, waited: 15, queued: 0, running: 0 })
})

test('a steady overload: the window holds over every interval and the backlog keeps the upstream busy', async (t: TestContext) => {
  const now = turnClock()
  const requests = 10
  const windowMs = 250
  const limiter = createLimiter({ requests, windowMs, maxConcurrent: Infinity, maxQueue: 1000, maxWaitMs: 10_000 }, { now })
  t.after(() => limiter.close())

  // 60 arrivals, one per 10 ms: 4 times what the window allows.
  const arrivals: number[] = []
  const pending: Array<Promise<number>> = []
  for (let i = 0; i < 60; i++) {
    arrivals.push(now())
    pending.push(start(limiter, now))
    await sleep(10)
  }
  const starts = await Promise.all(pending)

  assertSlidingWindow(t, starts, requests, windowMs)
  // FIFO and work-conserving: each start happens as soon as its arrival, its
  // predecessor and the unit it takes over all allow.
  for (let k = 1; k < starts.length; k++) {
    const earliest = Math.max(arrivals[k] as number, starts[k - 1] as number, k >= requests ? (starts[k - requests] as number) + windowMs : 0)
    const late = (starts[k] as number) - earliest
    t.assert.ok(late >= 0 && late < LATE_MS, `start ${k} is ${late.toFixed(1)} ms after it could have started`)
  }
  const first = starts[0] as number
  const achieved = starts.filter((s) => s < first + 4 * windowMs).length
  t.assert.ok(achieved >= 0.9 * 4 * requests, `${achieved} starts in 4 windows, ideal ${4 * requests}`)
})
