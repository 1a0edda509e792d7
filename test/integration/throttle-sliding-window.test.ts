import { test, type TestContext } from 'node:test'
import { startOrigin } from '../helpers/origin.js'
import { startSidecar } from '../helpers/sidecar.js'
import { maxInAnyWindow } from '../helpers/window.js'

// The upstream records when each request reached it; the property is checked on
// what it saw, over every window of the recording. The upstream's clock is
// later than the limiter's by the (variable) loopback latency, so a few ms of
// tolerance are allowed in the safe direction only: the window checked is
// shorter than the configured one.
const TOLERANCE_MS = 25

test('a burst through the proxy never puts more than `requests` starts in any window, and the backlog drains promptly', async (t: TestContext) => {
  const origin = await startOrigin(t)
  const windowMs = 400
  const requests = 10
  const sidecar = await startSidecar(t, {
    upstreams: { vendor: { target: origin.url, rateLimit: { requests, window: `${windowMs}ms`, maxQueue: 100, maxWait: '10s' } } }
  })
  const started = performance.now()
  const answers = await Promise.all(Array.from({ length: 35 }, async (_, i) => (await fetch(`${sidecar.url}/vendor/item/${i}`)).status))
  const elapsed = performance.now() - started

  t.assert.deepStrictEqual(new Set(answers), new Set([200]))
  t.assert.strictEqual(origin.requests.length, 35)
  const starts = origin.requests.map((request) => request.startedAt)
  t.assert.ok(maxInAnyWindow(starts, windowMs - TOLERANCE_MS) <= requests, `more than ${requests} starts in a ${windowMs} ms window`)
  // 35 requests at 10 per 400 ms: the last starts at 3 × 400 ms; served as fast as allowed, not in fixed refills.
  t.assert.ok(elapsed >= 3 * windowMs - TOLERANCE_MS, `finished in ${elapsed} ms: faster than the window allows`)
  t.assert.ok(elapsed < 3 * windowMs + 600, `finished in ${elapsed} ms: the backlog was not served promptly`)
})

test('a steady overload keeps the property and uses the budget', async (t: TestContext) => {
  const origin = await startOrigin(t)
  const windowMs = 300
  const requests = 5
  const sidecar = await startSidecar(t, {
    upstreams: { vendor: { target: origin.url, rateLimit: { requests, window: `${windowMs}ms`, maxQueue: 1000, maxWait: '10s' } } }
  })
  // Twice the allowed rate for ~1.2 s: one request every 30 ms.
  const pending: Array<Promise<number>> = []
  for (let i = 0; i < 40; i++) {
    pending.push(fetch(`${sidecar.url}/vendor/tick/${i}`).then((res) => res.status))
    await new Promise((resolve) => setTimeout(resolve, 30))
  }
  const statuses = await Promise.all(pending)
  t.assert.deepStrictEqual(new Set(statuses), new Set([200]))
  const starts = origin.requests.map((request) => request.startedAt)
  t.assert.ok(maxInAnyWindow(starts, windowMs - TOLERANCE_MS) <= requests)
  const span = Math.max(...starts) - Math.min(...starts)
  const achieved = (starts.length - 1) / (span / windowMs)
  t.assert.ok(achieved >= requests * 0.85, `achieved ${achieved.toFixed(2)} starts per window, budget ${requests}`)
})
