/**
 * Issue 19, part 9: tollgate_limiter_limit and tollgate_limiter_window_seconds,
 * the quota the dashboard draws tollgate_limiter_remaining against. A window
 * shared through Redis reports the limits in force across replicas (the
 * strictest any live replica publishes), not the replica's own rateLimit.
 */
import { test, type TestContext } from 'node:test'
import { startOrigin } from '../helpers/origin.js'
import { parsePrometheus, valueOf, type Sample } from '../helpers/prometheus.js'
import { startRedis, waitFor } from '../helpers/redis-server.js'
import { startSidecar, type RunningSidecar } from '../helpers/sidecar.js'

async function scrape (sidecar: RunningSidecar): Promise<Sample[]> {
  const res = await fetch(`${sidecar.url}/metrics`)
  return parsePrometheus(await res.text())
}

test('the limit and window are the upstream\'s rateLimit, and absent for an upstream without one', async (t: TestContext) => {
  t.plan(6)
  const origin = await startOrigin(t, (req, res) => { req.resume(); res.end('ok') })
  const sidecar = await startSidecar(t, {
    upstreams: {
      limited: { target: origin.url, rateLimit: { requests: 500, window: '1m' } },
      unlimited: { target: origin.url }
    }
  })
  t.assert.strictEqual((await fetch(`${sidecar.url}/limited/x`)).status, 200)
  const samples = await scrape(sidecar)
  t.assert.strictEqual(valueOf(samples, 'tollgate_limiter_limit', { upstream: 'limited' }), 500)
  t.assert.strictEqual(valueOf(samples, 'tollgate_limiter_window_seconds', { upstream: 'limited' }), 60)
  t.assert.strictEqual(valueOf(samples, 'tollgate_limiter_remaining', { upstream: 'limited' }), 499, 'used = limit - remaining: the one request')
  t.assert.strictEqual(valueOf(samples, 'tollgate_limiter_limit', { upstream: 'unlimited' }), undefined)
  t.assert.strictEqual(valueOf(samples, 'tollgate_limiter_window_seconds', { upstream: 'unlimited' }), undefined)
})

test('with a shared Redis window, every replica reports the limits in force across replicas, not its own', async (t: TestContext) => {
  t.plan(4)
  const redis = await startRedis(t)
  if (redis === undefined) return
  const origin = await startOrigin(t, (req, res) => { req.resume(); res.end('ok') })
  const config = (requests: number, window: string): Record<string, unknown> => ({
    log: { level: 'warn' },
    store: { type: 'redis', url: redis.url, keyPrefix: 'limit-metric:' },
    upstreams: { vendor: { target: origin.url, rateLimit: { requests, window } } }
  })
  const strict = await startSidecar(t, config(10, '3s'))
  const loose = await startSidecar(t, config(20, '2s'))
  await waitFor('both to use the strictest limits', () => [strict, loose].every((r) => r.sidecar.upstreams[0]!.limiter.status().shared?.requests === 10), 5000)
  for (const replica of [strict, loose]) {
    const samples = await scrape(replica)
    t.assert.strictEqual(valueOf(samples, 'tollgate_limiter_limit', { upstream: 'vendor' }), 10)
    t.assert.strictEqual(valueOf(samples, 'tollgate_limiter_window_seconds', { upstream: 'vendor' }), 3)
  }
})
