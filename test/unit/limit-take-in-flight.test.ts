/**
 * A store one round trip away (as Redis is): while a take is on its way, its
 * answer decides for the waiters it was asked for, even past their deadline
 * (a request whose token wait used up its maxWait still gets that round trip
 * to a free slot); the waiters behind them keep their deadlines. The store is
 * the real memory window with `take` answered only when the test says, and no
 * synchronous `takeNow`, as a shared store behaves.
 */
import { test, type TestContext } from 'node:test'
import { createLimiter, type Grant, type WindowStore } from '../../src/limit/index.js'
import { createMemoryWindow } from '../../src/limit/memory-window.js'
import { track } from '../helpers/acquire-outcome.js'

const T0 = 1_000_000
const ROUND_TRIP_MS = 300

function roundTripStore (requests: number, windowMs: number, now: () => number): WindowStore {
  const local = createMemoryWindow(requests, windowMs, now)
  return {
    requests,
    windowMs,
    takeNow: () => undefined,
    take: async (n: number): Promise<Grant> => {
      await new Promise((resolve) => setTimeout(resolve, ROUND_TRIP_MS))
      return await local.take(n)
    },
    stamp: (ticket) => { local.stamp(ticket) },
    giveBack: (ticket) => { local.giveBack(ticket) },
    learnRemaining: (remaining) => { local.learnRemaining(remaining) },
    pause: (ms) => { local.pause(ms) },
    remaining: () => local.remaining(),
    freeInMs: () => local.freeInMs(),
    listen: (events) => { local.listen(events) },
    close: () => { local.close() }
  }
}

async function advance (t: TestContext, ms: number): Promise<void> {
  t.mock.timers.tick(ms)
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve))
}

test('a take on its way decides for the waiters it was asked for; the ones behind still time out at their deadline', async (t: TestContext) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: T0 })
  const now = (): number => Date.now()
  const limiter = createLimiter({ requests: 1, windowMs: 60_000, maxConcurrent: 1, maxQueue: 10, maxWaitMs: 5000 }, { now }, roundTripStore(1, 60_000, now))
  // Its budget used up before it came (a token wait): asked for in the take that starts now.
  const spent = track(limiter.acquire(undefined, 0))
  // Behind it, with 100 ms to wait: not part of that take (maxConcurrent 1 asks for one unit).
  const behind = track(limiter.acquire(undefined, 100))
  await advance(t, 150)
  t.assert.deepStrictEqual([spent.settled, behind.settled, behind.error?.code], [false, true, 'TG_QUEUE_TIMEOUT'], 'the one behind times out at its deadline, under the take')
  await advance(t, ROUND_TRIP_MS)
  t.assert.ok(spent.permit !== undefined, `the take's answer started the request it was asked for (${spent.error?.code ?? 'pending'})`)
})
