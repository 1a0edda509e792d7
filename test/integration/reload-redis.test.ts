/**
 * A reload on a shared store (issue 19 part 2): the window lives in Redis
 * and every replica sizes it alike, so a changed `rateLimit.requests` waits
 * for a restart (reported, the running size kept), while the rest of
 * `rateLimit` and the upstream's other settings apply; the token, stored in
 * Redis too, is not fetched again.
 */
import { test, type TestContext } from 'node:test'
import { startOrigin } from '../helpers/origin.js'
import { startRedis } from '../helpers/redis-server.js'
import { reloadTo } from '../helpers/reload.js'
import { startSidecar } from '../helpers/sidecar.js'
import { startTokenEndpoint, tokenReply } from '../helpers/token-endpoint.js'

test('store.type redis: a new window size is restart-needed and kept; the rest of the upstream reloads; no new token', async (t: TestContext) => {
  const redis = await startRedis(t)
  if (redis === undefined) return
  const endpoint = await startTokenEndpoint(t, () => tokenReply('redis-reload-token', 3600))
  const origin = await startOrigin(t, (req, res) => { req.resume(); res.end(String(req.headers['x-version'] ?? '-')) })
  const raw = (requests: number, version: string): Record<string, unknown> => ({
    store: { type: 'redis', url: redis.url, keyPrefix: 'reload-test:' },
    upstreams: {
      vendor: {
        target: origin.url,
        headers: { 'X-Version': version },
        auth: { type: 'oauth2_client_credentials', tokenUrl: endpoint.url, clientId: 'redis-client', clientSecret: 'redis-reload-secret' },
        rateLimit: { requests, window: '1h', maxConcurrent: 2, maxWait: '50ms' }
      }
    }
  })
  const sidecar = await startSidecar(t, raw(2, '1'))
  const get = async (): Promise<[number, string]> => {
    const res = await fetch(`${sidecar.url}/vendor/x`)
    return [res.status, await res.text()]
  }
  t.assert.deepStrictEqual(await get(), [200, '1'])

  const report = await reloadTo(sidecar.sidecar, raw(5, '2'))
  t.assert.deepStrictEqual([report.result, report.restartNeeded], ['partial', ['upstreams.vendor.rateLimit.requests']])
  t.assert.strictEqual(sidecar.sidecar.config.upstreams[0]?.rateLimit?.requests, 2, 'the running size is kept')
  t.assert.deepStrictEqual(await get(), [200, '2'], 'the header applied, and the second of 2 starts is allowed')
  t.assert.strictEqual((await get())[0], 503, 'the third is not: the window still holds 2')
  t.assert.strictEqual(endpoint.requests.length, 1, 'no new token')
})
