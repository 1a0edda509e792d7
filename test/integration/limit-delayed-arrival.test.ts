import { setTimeout as sleep } from 'node:timers/promises'
import { createLimiter } from '../../src/limit/index.js'
import { test, type TestContext } from 'node:test'
import type { Limiter } from '../../src/limit/limiter.js'
import { LATE_SLACK_MS } from '../helpers/timing.js'

/**
 * Whole ms on a monotonic clock, for the limiter and the test alike: every
 * time below is an integer, so the sums and gaps are exact and the window
 * property can be checked with no tolerance at all.
 */
const now = (): number => Math.floor(performance.now())

async function sleepUntil (at: number): Promise<void> {
  // A timer may fire a little before its time by this clock: wait again.
  while (now() < at) await sleep(at - now())
}

interface Exchange { arrival: number, answeredAt: number, startedAt: number }

/**
 * One proxied request against a simulated vendor: it reaches the vendor
 * `delayMs` after its start (connection setup, TLS, a congested loop), and
 * the vendor's answer is back 5 ms after that.
 */
async function exchange (limiter: Limiter, delayMs: () => number): Promise<Exchange> {
  const permit = await limiter.acquire()
  const startedAt = now()
  const arrival = startedAt + delayMs()
  await sleepUntil(arrival + 5)
  permit.answered()
  const answeredAt = now()
  permit.release()
  return { arrival, answeredAt, startedAt }
}

const LATE_MS = LATE_SLACK_MS

test('a cold first batch that reaches the vendor late cannot crowd the next batch into its window', async (t: TestContext) => {
  const requests = 10
  const windowMs = 400
  const limiter = createLimiter({ requests, windowMs, maxConcurrent: Infinity, maxQueue: 100, maxWaitMs: 10_000 }, { now })
  t.after(() => limiter.close())

  // The first batch waits 0–150 ms for fresh connections; later batches go out on warm ones at once.
  const coldDelay = (): number => Math.floor(Math.random() * 151)
  const warmDelay = (): number => Math.floor(Math.random() * 3)
  const exchanges = await Promise.all(Array.from({ length: 3 * requests }, (_, i) =>
    exchange(limiter, i < requests ? coldDelay : warmDelay)))

  // As the vendor sees it: any `requests + 1` arrivals span at least a window.
  const arrivals = exchanges.map((e) => e.arrival).sort((a, b) => a - b)
  for (let i = 0; i + requests < arrivals.length; i++) {
    const gap = (arrivals[i + requests] as number) - (arrivals[i] as number)
    t.assert.ok(gap >= windowMs, `arrivals ${i} and ${i + requests} are only ${gap} ms apart: ${arrivals.join(' ')}`)
  }
  // And no slower than that: each later start comes as soon as an answered unit has aged out.
  const starts = exchanges.map((e) => e.startedAt).sort((a, b) => a - b)
  const answers = exchanges.map((e) => e.answeredAt).sort((a, b) => a - b)
  for (let k = requests; k < starts.length; k++) {
    const late = (starts[k] as number) - ((answers[k - requests] as number) + windowMs)
    t.assert.ok(late < LATE_MS, `start ${k} came ${late} ms after its unit freed`)
  }
  const { counters, queued, running, remaining } = limiter.status()
  t.assert.deepStrictEqual({ started: counters.started, waited: counters.waited, queued, running },
    { started: 30, waited: 20, queued: 0, running: 0 })
  t.assert.strictEqual(remaining, 0, 'the last batch is still in the window')
})
