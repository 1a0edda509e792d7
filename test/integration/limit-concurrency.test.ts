import { test, type TestContext } from 'node:test'
import { createLimiter } from '../../src/limit/index.js'
import type { Permit } from '../../src/limit/limiter.js'
import { LATE_SLACK_MS } from '../helpers/timing.js'

const generous = { requests: 1000, windowMs: 1000, maxConcurrent: 2, maxQueue: 100, maxWaitMs: 5000 }

test('with budget left and nobody queued, acquire returns a plain Permit, synchronously', (t: TestContext) => {
  const limiter = createLimiter({ ...generous, maxConcurrent: Infinity })
  t.after(() => limiter.close())

  for (let i = 0; i < 10; i++) {
    const acquired = limiter.acquire(new AbortController().signal)
    t.assert.ok(!(acquired instanceof Promise))
    ;(acquired as Permit).answered()
    ;(acquired as Permit).release()
  }
  t.assert.strictEqual(limiter.status().counters.started, 10)
})

test('maxConcurrent: a slot is held until its release, and releasing twice frees it once', async (t: TestContext) => {
  const limiter = createLimiter(generous)
  t.after(() => limiter.close())

  const a = limiter.acquire() as Permit
  const b = limiter.acquire() as Permit
  const c = limiter.acquire()
  const d = limiter.acquire()
  t.assert.ok(c instanceof Promise && d instanceof Promise, 'both slots are held')
  t.assert.deepStrictEqual([limiter.status().running, limiter.status().queued], [2, 2])

  a.release()
  const permitC = await c
  t.assert.deepStrictEqual([limiter.status().running, limiter.status().queued], [2, 1], 'c took the freed slot')

  a.release()
  a.release()
  t.assert.deepStrictEqual([limiter.status().running, limiter.status().queued], [2, 1], 'a second release of a frees nothing: d still waits')

  b.release()
  const permitD = await d
  permitC.release()
  permitD.release()
  permitD.release()
  const { running, queued, counters } = limiter.status()
  t.assert.deepStrictEqual({ running, queued, started: counters.started, waited: counters.waited }, { running: 0, queued: 0, started: 4, waited: 2 })
})

test('a waiter behind maxConcurrent starts when a slot frees, even after its window unit came back', async (t: TestContext) => {
  const limiter = createLimiter({ ...generous, requests: 1, windowMs: 100, maxConcurrent: 1 })
  t.after(() => limiter.close())

  const a = limiter.acquire() as Permit
  a.answered()
  const b = limiter.acquire()
  // Let the window unit come back while the slot is still held: only the release can wake b.
  await new Promise((resolve) => setTimeout(resolve, 150))
  t.assert.strictEqual(limiter.status().queued, 1)
  const releasedAt = Date.now()
  a.release()
  ;(await b).release()
  t.assert.ok(Date.now() - releasedAt < LATE_SLACK_MS, 'started on release, not on a later timer')
})
