/**
 * An answer that arrives as the app hangs up still teaches the limiter
 * (issue 14 part 1): the race between the app's TCP reset and the vendor's
 * 429 is run many times, both ways round, and every 429 whose headers
 * tollgate's HTTP client received (undici's own diagnostics channel, a
 * public API) must have counted as a 429, whether or not the app was there
 * to take it. Measured here, tollgate reads the answer before it notices
 * the reset in both orders (the reset only stops the answer reaching the
 * app); the other interleaving, headers parsed after the hang-up was seen,
 * is served by the dispatch watcher (Exchange.headers) and could not be
 * forced from outside the process.
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { connect } from 'node:net'
import { test, type TestContext } from 'node:test'
import { eventually, startCountedOrigin } from '../helpers/hostile.js'
import { startSidecar } from '../helpers/sidecar.js'

const ROUNDS = 40

test('every 429 tollgate received for an app that hung up at that moment paused the upstream', async (t: TestContext) => {
  let hangUp: (() => void) | undefined
  const origin = await startCountedOrigin(t, (req, res) => {
    req.resume()
    const round = origin.requests.length
    // Both orders: the app's hang-up before the answer is written, and after.
    if (round % 2 === 0) hangUp?.()
    res.writeHead(429, { 'retry-after': '0', 'content-type': 'text/plain' }).end('slow down')
    if (round % 2 === 1) hangUp?.()
  })
  const sidecar = await startSidecar(t, {
    log: { level: 'warn' },
    upstreams: { a: { target: origin.url, rateLimit: { requests: 1000, window: '1s' }, retry: { on429: 0 } } }
  })
  const limiter = sidecar.sidecar.upstreams[0]!.limiter
  const originPort = new URL(origin.url).port
  let received = 0
  const onHeaders = (message: unknown): void => {
    const { request, response } = message as { request: { origin: string }, response: { statusCode: number } }
    if (response.statusCode === 429 && String(request.origin).endsWith(`:${originPort}`)) received++
  }
  subscribe('undici:request:headers', onHeaders)
  t.after(() => unsubscribe('undici:request:headers', onHeaders))

  let answered = 0
  for (let round = 0; round < ROUNDS; round++) {
    // A raw socket: its hang-up (a TCP reset) leaves at once, in the same tick as the answer.
    const app = connect(Number(new URL(sidecar.url).port), '127.0.0.1')
    app.on('error', () => {})
    app.on('data', () => { answered++ })
    hangUp = () => app.resetAndDestroy()
    app.write(`GET /a/r/${round} HTTP/1.1\r\nhost: app\r\n\r\n`)
    await new Promise((resolve) => app.once('close', resolve))
    t.assert.ok(await eventually(() => limiter.status().running === 0), `round ${round}: a slot is still held`)
  }
  t.assert.ok(await eventually(() => limiter.status().counters.observed429 === received),
    `${received} 429s reached tollgate, ${limiter.status().counters.observed429} were learned`)
  t.diagnostic(`${ROUNDS} rounds: ${received} answers received by tollgate, ${answered} reached the app`)
  t.assert.strictEqual(origin.requests.length, ROUNDS, 'nothing was retried or sent twice')
})
