import { test, type TestContext } from 'node:test'
import { createLimiter } from '../../src/limit/index.js'
import type { Limiter, Permit } from '../../src/limit/limiter.js'
import type { LimiterRejection } from '../../src/limit/rejection.js'
import { LATE_SLACK_MS } from '../helpers/timing.js'

const base = { requests: 1, windowMs: 400, maxConcurrent: Infinity, maxQueue: 100, maxWaitMs: 5000 }

function rejection (acquired: Permit | Promise<Permit>): Promise<LimiterRejection | undefined> {
  return Promise.resolve(acquired).then(() => undefined, (e: LimiterRejection) => e)
}

/** A start the upstream answers at once: its unit is stamped now. */
function take (limiter: Limiter): Permit {
  const permit = limiter.acquire() as Permit
  permit.answered()
  return permit
}

function counts (limiter: ReturnType<typeof createLimiter>): { queued: number, running: number, started: number, rejected: number } {
  const { queued, running, counters } = limiter.status()
  return { queued, running, started: counters.started, rejected: counters.rejected }
}

test('maxQueue: one more waiter is refused at once with QueueFull and a retryAfterMs', async (t: TestContext) => {
  const warnings: unknown[] = []
  const log = { info: () => {}, warn: (obj: object, msg: string) => { warnings.push([msg, obj]) } }
  const limiter = createLimiter({ ...base, maxQueue: 2 }, { log })
  t.after(() => limiter.close())

  take(limiter)
  const waiting = [limiter.acquire(), limiter.acquire()]
  const before = Date.now()
  const errs = await Promise.all([rejection(limiter.acquire()), rejection(limiter.acquire())])
  t.assert.ok(Date.now() - before < LATE_SLACK_MS, 'refused without waiting')

  for (const err of errs) {
    t.assert.strictEqual(err?.code, 'TG_QUEUE_FULL')
    t.assert.strictEqual(err?.statusCode, 503)
    t.assert.ok(err !== undefined && err.retryAfterMs > 0, `retryAfterMs ${err?.retryAfterMs}`)
  }
  t.assert.deepStrictEqual(warnings, [['limiter queue full', { maxQueue: 2 }]], 'one warning per backlog')
  t.assert.deepStrictEqual(counts(limiter), { queued: 2, running: 1, started: 1, rejected: 2 })
  for (const w of waiting) {
    const permit = await w
    permit.answered()
    permit.release()
  }
  t.assert.deepStrictEqual(counts(limiter), { queued: 0, running: 1, started: 3, rejected: 2 })
})

test('maxWait: a waiter queued too long leaves with QueueTimeout, holding nothing', async (t: TestContext) => {
  const limiter = createLimiter({ ...base, windowMs: 2000, maxWaitMs: 100 })
  t.after(() => limiter.close())

  take(limiter)
  const queuedAt = Date.now()
  const err = await rejection(limiter.acquire())
  const waited = Date.now() - queuedAt

  t.assert.strictEqual(err?.code, 'TG_QUEUE_TIMEOUT')
  t.assert.strictEqual(err?.statusCode, 503)
  t.assert.ok(waited >= 100 && waited < 100 + LATE_SLACK_MS, `rejected after ${waited} ms`)
  t.assert.ok(err !== undefined && err.retryAfterMs >= 1800 && err.retryAfterMs <= 1900, `retryAfterMs ${err?.retryAfterMs}: when the unit frees`)
  t.assert.deepStrictEqual(counts(limiter), { queued: 0, running: 1, started: 1, rejected: 1 })
})

test('abort while queued on the window: rejects with the reason, frees the place, takes no unit', async (t: TestContext) => {
  const limiter = createLimiter({ ...base, requests: 2 })
  t.after(() => limiter.close())

  const t0 = Date.now()
  take(limiter)
  take(limiter)
  const controller = new AbortController()
  const aborted = rejection(limiter.acquire(controller.signal))
  const next = limiter.acquire()
  t.assert.deepStrictEqual(counts(limiter), { queued: 2, running: 2, started: 2, rejected: 0 })

  const reason = new Error('client went away')
  controller.abort(reason)
  t.assert.strictEqual(await aborted, reason)
  t.assert.deepStrictEqual(counts(limiter), { queued: 1, running: 2, started: 2, rejected: 0 })

  // Both units come back at t0 + window: the waiter behind and a newcomer get them.
  const later = limiter.acquire()
  await Promise.all([next, later])
  t.assert.ok(Date.now() - t0 < base.windowMs + 40, 'the aborted waiter did not delay anyone')
  t.assert.deepStrictEqual(counts(limiter), { queued: 0, running: 4, started: 4, rejected: 0 })
  t.assert.strictEqual(limiter.status().remaining, 0)
})

test('abort while queued on maxConcurrent: no slot leaks', async (t: TestContext) => {
  const limiter = createLimiter({ ...base, requests: 100, maxConcurrent: 1 })
  t.after(() => limiter.close())

  const permit = limiter.acquire() as Permit
  const controller = new AbortController()
  const aborted = rejection(limiter.acquire(controller.signal))
  controller.abort()
  t.assert.strictEqual((await aborted)?.name, 'AbortError')
  t.assert.deepStrictEqual(counts(limiter), { queued: 0, running: 1, started: 1, rejected: 0 })

  permit.release()
  t.assert.deepStrictEqual(counts(limiter), { queued: 0, running: 0, started: 1, rejected: 0 })
  t.assert.ok(!(limiter.acquire() instanceof Promise), 'the slot is free again')
})

test('a signal already aborted rejects at once and counts nothing', async (t: TestContext) => {
  const limiter = createLimiter(base)
  t.after(() => limiter.close())

  const reason = new Error('gone')
  t.assert.strictEqual(await rejection(limiter.acquire(AbortSignal.abort(reason))), reason)
  t.assert.deepStrictEqual(counts(limiter), { queued: 0, running: 0, started: 0, rejected: 0 })
})

test('close() rejects every waiter, clears its timer and refuses new work', async (t: TestContext) => {
  const setTimeoutSpy = t.mock.method(globalThis, 'setTimeout')
  const clearTimeoutSpy = t.mock.method(globalThis, 'clearTimeout')
  const limiter = createLimiter({ ...base, windowMs: 60_000 })

  take(limiter)
  const waiting = Array.from({ length: 50 }, () => rejection(limiter.acquire()))
  t.assert.strictEqual(setTimeoutSpy.mock.callCount(), 1, 'one timer for 50 waiters')
  const timer = setTimeoutSpy.mock.calls[0]?.result

  limiter.close()
  for (const err of await Promise.all(waiting)) t.assert.strictEqual(err?.code, 'TG_SHUTTING_DOWN')
  t.assert.ok(clearTimeoutSpy.mock.calls.some((c) => c.arguments[0] === timer), 'the wake-up timer was cleared')
  t.assert.strictEqual((await rejection(limiter.acquire()))?.code, 'TG_SHUTTING_DOWN')
  t.assert.deepStrictEqual(counts(limiter), { queued: 0, running: 1, started: 1, rejected: 51 })
})
