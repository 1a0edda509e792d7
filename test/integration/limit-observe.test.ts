import { setTimeout as sleep } from 'node:timers/promises'
import { createLimiter } from '../../src/limit/index.js'
import { test, type TestContext } from 'node:test'
import type { Limiter, Permit } from '../../src/limit/limiter.js'
import { LATE_SLACK_MS } from '../helpers/timing.js'

const config = { requests: 10, windowMs: 300, maxConcurrent: Infinity, maxQueue: 100, maxWaitMs: 5000 }

/** A start the upstream answers at once: its unit is stamped now. */
function take (limiter: Limiter): Permit {
  const permit = limiter.acquire() as Permit
  permit.answered()
  return permit
}

test('x-ratelimit-remaining below the local view lowers it; never raises it; garbage is ignored', (t: TestContext) => {
  const limiter = createLimiter(config)
  t.after(() => limiter.close())
  const remaining = (): number => limiter.status().remaining

  take(limiter)
  limiter.acquire()
  t.assert.strictEqual(remaining(), 8, 'a stamped unit and a pending one')
  limiter.observe({ 'x-ratelimit-remaining': '3', 'x-ratelimit-limit': '500' })
  t.assert.strictEqual(remaining(), 3)
  limiter.observe({ 'x-ratelimit-remaining': '7' })
  t.assert.strictEqual(remaining(), 3, 'never raised')
  for (const garbage of ['', 'lots', '-1', '2.5', '0x1']) limiter.observe({ 'x-ratelimit-remaining': garbage })
  limiter.observe({})
  t.assert.strictEqual(remaining(), 3, 'unreadable values are ignored')
  limiter.observe({ 'x-ratelimit-remaining': ['4', 'x', '2'] })
  t.assert.strictEqual(remaining(), 2, 'a repeated header counts by its smallest value')
})

test('learned starts age out of the window like real ones, and hold back acquisitions until then', async (t: TestContext) => {
  const limiter = createLimiter(config)
  t.after(() => limiter.close())

  const before = Date.now()
  take(limiter)
  const firstAt = Date.now()
  await sleep(100)
  limiter.observe({ 'x-ratelimit-remaining': '0' })
  const observedAt = Date.now()
  t.assert.strictEqual(limiter.status().remaining, 0)

  const acquired = limiter.acquire()
  t.assert.ok(acquired instanceof Promise, 'no budget left')
  const permit = await acquired
  const startedAt = Date.now()
  permit.answered()
  permit.release()
  t.assert.ok(startedAt - before >= config.windowMs, 'waited for the real start to age out')
  t.assert.ok(startedAt - firstAt < config.windowMs + LATE_SLACK_MS, `started ${startedAt - firstAt - config.windowMs} ms after a unit freed`)
  t.assert.strictEqual(limiter.status().remaining, 0, 'the other units are still taken by the learned starts')

  await sleep(observedAt + config.windowMs + 5 - Date.now())
  t.assert.strictEqual(limiter.status().remaining, 9, 'the learned starts aged out one window after they were learned')
})
