/**
 * A 429 whose own retry-after fits in maxWait, answered while the upstream
 * is already paused for longer (another request's 429): the retry could only
 * be refused, so the vendor's 429 is passed back at once (the contract: "When
 * the pause ends later than the request may still wait (maxWait), the 429 is
 * passed back at once, with its retry-after"), not replaced by a 503.
 */
import { test, type TestContext } from 'node:test'
import { eventually } from '../helpers/hostile.js'
import { startOrigin } from '../helpers/origin.js'
import { startSidecar } from '../helpers/sidecar.js'

test('a retryable 429 answered during a longer pause than maxWait allows is passed back at once, with its own retry-after', async (t: TestContext) => {
  t.plan(6)
  let releaseShort: () => void = () => {}
  const longAnswered = new Promise<void>((resolve) => { releaseShort = resolve })
  const origin = await startOrigin(t, (req, res) => {
    req.resume()
    req.on('end', () => {
      if (req.url === '/long') {
        res.writeHead(429, { 'retry-after': '10' }).end('long pause')
        releaseShort()
      } else {
        // /short is answered only once /long has paused the upstream for 10 s.
        longAnswered.then(() => setTimeout(() => res.writeHead(429, { 'retry-after': '1' }).end('short pause'), 20), () => {})
      }
    })
  })
  const sidecar = await startSidecar(t, {
    log: { level: 'warn' },
    upstreams: { a: { target: origin.url, rateLimit: { requests: 1000, window: '1s', maxWait: '3s' }, retry: { on429: 2 } } }
  })
  const short = fetch(`${sidecar.url}/a/short`, { signal: AbortSignal.timeout(6000) })
  // /short is on the wire before /long is sent.
  t.assert.ok(await eventually(() => origin.requests.some((r) => r.url === '/short'), 5000), '/short did not reach the vendor')
  const long = await fetch(`${sidecar.url}/a/long`, { signal: AbortSignal.timeout(6000) })
  await long.arrayBuffer()
  const started = performance.now()
  const res = await short
  const body = await res.text()
  const elapsed = performance.now() - started
  t.assert.strictEqual(res.status, 429, body)
  t.assert.strictEqual(res.headers.get('retry-after'), '1')
  t.assert.strictEqual(body, 'short pause', 'the vendor\'s own answer')
  t.assert.ok(elapsed < 1000, `answered after ${Math.round(elapsed)} ms`)
  t.assert.deepStrictEqual(origin.requests.map((r) => r.url), ['/short', '/long'], 'no retry that could only be refused')
})
