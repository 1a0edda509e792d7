/**
 * A 401 to a static_bearer credential goes back to the app at once: there
 * is no other token to try, so a retry would only send the same request with
 * the same credential again and spend a window unit on a certain 401.
 */
import { test, type TestContext } from 'node:test'
import { startSidecar } from '../helpers/sidecar.js'
import { startOrigin } from '../helpers/origin.js'

test('static_bearer: a 401 is passed back, and the request is sent once', async (t: TestContext) => {
  t.plan(4)
  const origin = await startOrigin(t, (req, res) => {
    req.resume()
    req.on('end', () => res.writeHead(401, { 'www-authenticate': 'Bearer error="invalid_token"' }).end('revoked'))
  })
  const sidecar = await startSidecar(t, {
    log: { level: 'warn' },
    upstreams: { a: { target: origin.url, auth: { type: 'static_bearer', token: 'static-401-token' }, rateLimit: { requests: 10, window: '1m' } } }
  })
  const res = await fetch(`${sidecar.url}/a/Patient/1`, { signal: AbortSignal.timeout(4000) })
  t.assert.strictEqual(res.status, 401)
  t.assert.strictEqual(await res.text(), 'revoked', 'the vendor\'s own answer')
  t.assert.strictEqual(origin.requests.length, 1, 'sent once')
  t.assert.strictEqual(sidecar.sidecar.upstreams[0]!.limiter.status().remaining, 9, 'one window unit spent')
})
