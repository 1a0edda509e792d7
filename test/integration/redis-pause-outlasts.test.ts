/**
 * store.type: redis — a 429 seen by one replica whose pause outlasts the
 * maxWait of requests queued at another replica: they get 503
 * TG_UPSTREAM_PAUSED at once, not a late TG_QUEUE_TIMEOUT (issue 14).
 */
import { test, type TestContext } from 'node:test'
import { eventually, startCountedOrigin } from '../helpers/hostile.js'
import { startRedis } from '../helpers/redis-server.js'
import { startSidecar } from '../helpers/sidecar.js'

test('a pause learned from another replica turns away the waiters it outlasts, at once', async (t: TestContext) => {
  const redis = await startRedis(t)
  if (redis === undefined) return
  const origin = await startCountedOrigin(t, (req, res) => {
    req.resume()
    req.on('end', () => {
      if (req.url === '/slow-down') res.writeHead(429, { 'retry-after': '10' }).end()
      else if (req.url === '/hold') setTimeout(() => res.end('held'), 1500)
      else res.end('ok')
    })
  })
  const config = {
    store: { type: 'redis', url: redis.url, keyPrefix: 'pause-outlasts:' },
    log: { level: 'warn' },
    upstreams: { vendor: { target: origin.url, rateLimit: { requests: 100, window: '1m', maxConcurrent: 1, maxWait: '3s' } } }
  }
  const [a, b] = await Promise.all([startSidecar(t, config), startSidecar(t, config)])
  const limiterB = b.sidecar.upstreams[0]!.limiter
  // b's only slot is busy, so its next request queues.
  const held = fetch(`${b.url}/vendor/hold`).then(async (res) => { await res.arrayBuffer(); return res.status })
  t.assert.ok(await eventually(() => limiterB.status().running === 1))
  const started = performance.now()
  const queued = fetch(`${b.url}/vendor/queued`).then(async (res) => ({ status: res.status, body: await res.json() as { code?: string }, retryAfter: res.headers.get('retry-after'), at: performance.now() }))
  t.assert.ok(await eventually(() => limiterB.status().queued === 1), `queued at b: ${JSON.stringify(limiterB.status())}`)

  const refused = await fetch(`${a.url}/vendor/slow-down`)
  await refused.arrayBuffer()
  t.assert.strictEqual(refused.status, 429, 'a passes the vendor\'s 429 back: its pause outlasts maxWait')

  const answer = await queued
  t.assert.strictEqual(answer.status, 503)
  t.assert.strictEqual(answer.body.code, 'TG_UPSTREAM_PAUSED')
  t.assert.ok(Number(answer.retryAfter) >= 9, `Retry-After ${answer.retryAfter}: the pause left`)
  t.assert.ok(answer.at - started < 1500, `answered after ${Math.round(answer.at - started)} ms: at once, not at maxWait`)
  t.assert.strictEqual(await held, 200)
  t.assert.deepStrictEqual(origin.requests.map((r) => r.url).sort(), ['/hold', '/slow-down'], 'nothing else reached the vendor')
})
