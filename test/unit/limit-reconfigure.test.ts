/**
 * A changed rateLimit (a config reload) reconfigures the running limiter:
 * the starts it recorded stay recorded (issue 19 part 2), held slots and the
 * queue carry over. A clock the test moves by hand: no sleeps.
 */
import { test, type TestContext } from 'node:test'
import { createLimiter, PAUSE_ONLY } from '../../src/limit/index.js'
import type { Limiter, Permit } from '../../src/limit/limiter.js'
import { SlidingWindow } from '../../src/limit/sliding-window.js'

const base = { requests: 3, windowMs: 1000, maxConcurrent: Infinity, maxQueue: 10, maxWaitMs: 5000 }

function clock (): { now: () => number, advance (ms: number): void } {
  let at = 10_000
  return { now: () => at, advance: (ms) => { at += ms } }
}

/** A start answered at once: its unit is stamped now. */
function take (limiter: Limiter): Permit {
  const permit = limiter.tryAcquire?.()
  if (permit === undefined) throw new Error('expected a start without waiting')
  permit.answered()
  return permit
}

test('a larger limit keeps the starts already in the window and allows only the difference', (t: TestContext) => {
  const time = clock()
  const limiter = createLimiter(base, { now: time.now })
  for (let i = 0; i < 3; i++) take(limiter)
  t.assert.strictEqual(limiter.tryAcquire?.(), undefined, 'full at 3')
  limiter.reconfigure({ ...base, requests: 5 })
  take(limiter)
  take(limiter)
  t.assert.strictEqual(limiter.tryAcquire?.(), undefined, 'the 3 recorded starts count against the new 5')
  t.assert.strictEqual(limiter.status().remaining, 0)
  limiter.close()
})

test('a smaller limit holds new starts back until enough recorded ones age out', (t: TestContext) => {
  const time = clock()
  const limiter = createLimiter({ ...base, requests: 5 }, { now: time.now })
  for (let i = 0; i < 4; i++) {
    take(limiter)
    time.advance(100)
  }
  // Starts at 0, 100, 200, 300 ms; now 400 ms.
  limiter.reconfigure({ ...base, requests: 2 })
  t.assert.strictEqual(limiter.tryAcquire?.(), undefined, '4 recorded starts against a limit of 2')
  t.assert.strictEqual(limiter.status().remaining, 0, 'never negative')
  time.advance(799)
  t.assert.strictEqual(limiter.tryAcquire?.(), undefined, 'at 1199 ms the starts of 200 and 300 ms are still in the window')
  time.advance(1)
  t.assert.ok(limiter.tryAcquire?.() !== undefined, 'at 1200 ms only the start of 300 ms is: one of two')
  limiter.close()
})

test('a longer window counts the recorded starts for longer; a shorter one lets them go sooner', (t: TestContext) => {
  const time = clock()
  const longer = createLimiter(base, { now: time.now })
  for (let i = 0; i < 3; i++) take(longer)
  time.advance(1000)
  longer.reconfigure({ ...base, windowMs: 2000 })
  t.assert.strictEqual(longer.tryAcquire?.(), undefined, '1 s after them, the starts are still in a 2 s window')
  time.advance(1000)
  t.assert.ok(longer.tryAcquire?.() !== undefined, 'and free 2 s after them')
  longer.close()

  const shorter = createLimiter(base, { now: time.now })
  for (let i = 0; i < 3; i++) take(shorter)
  time.advance(500)
  t.assert.strictEqual(shorter.tryAcquire?.(), undefined)
  shorter.reconfigure({ ...base, windowMs: 500 })
  t.assert.ok(shorter.tryAcquire?.() !== undefined, 'free at once in a 500 ms window')
  shorter.close()
})

test('held slots carry over: a lower maxConcurrent counts the requests already running, a higher one lets waiters start at once', async (t: TestContext) => {
  const time = clock()
  const limiter = createLimiter({ ...base, requests: 100, maxConcurrent: 3 }, { now: time.now })
  const running = [take(limiter), take(limiter)]
  limiter.reconfigure({ ...base, requests: 100, maxConcurrent: 1 })
  t.assert.strictEqual(limiter.tryAcquire?.(), undefined, 'two running against a limit of one')
  const waiting = limiter.acquire()
  t.assert.ok(waiting instanceof Promise)
  running[0]?.release()
  t.assert.strictEqual(limiter.status().queued, 1, 'one still running: the waiter waits')
  limiter.reconfigure({ ...base, requests: 100, maxConcurrent: 2 })
  t.assert.strictEqual(limiter.status().queued, 0, 'the raised limit let the waiter start')
  const permit = await waiting
  permit.release()
  running[1]?.release()
  t.assert.strictEqual(limiter.status().running, 0)
  limiter.close()
})

test('a rateLimit added to an upstream that had none starts an empty window; one removed lifts the window, keeping the pause', (t: TestContext) => {
  const time = clock()
  const limiter = createLimiter(undefined, { now: time.now })
  take(limiter)
  limiter.reconfigure({ ...base, requests: 1 })
  take(limiter)
  t.assert.strictEqual(limiter.tryAcquire?.(), undefined, 'the new window counts from now')
  limiter.pauseFor(5000)
  limiter.reconfigure(PAUSE_ONLY)
  t.assert.strictEqual(limiter.status().requests, Infinity)
  t.assert.strictEqual(limiter.tryAcquire?.(), undefined, 'still paused')
  time.advance(5000)
  t.assert.ok(limiter.tryAcquire?.() !== undefined, 'no window after the pause')
  limiter.close()
})

test('SlidingWindow.resize keeps the newest stamps that fit, and pending units stay pending', (t: TestContext) => {
  const time = clock()
  const window = new SlidingWindow(4, 1000, time.now)
  for (let i = 0; i < 4; i++) {
    t.assert.strictEqual(window.tryTake(), 0)
    window.commit()
    time.advance(100)
  }
  // Stamps at 0, 100, 200, 300; now 400.
  window.resize(2, 1000)
  t.assert.strictEqual(window.remaining(), 0)
  // The newest two (200, 300) are kept: the next unit frees at 1200.
  t.assert.strictEqual(window.nextFreeAt(), time.now() + 800)
  window.resize(6, 1000)
  t.assert.strictEqual(window.remaining(), 4, 'grown: the 2 kept stamps count against 6')
  t.assert.strictEqual(window.tryTake(), 0)
  window.resize(1, 1000)
  t.assert.strictEqual(window.remaining(), 0, '2 stamps and 1 pending against a limit of 1')
  window.commit()
  time.advance(900)
  t.assert.strictEqual(window.remaining(), 0, 'the commit kept the newest stamp, now 900 ms old')
  time.advance(100)
  t.assert.strictEqual(window.remaining(), 1)
})
