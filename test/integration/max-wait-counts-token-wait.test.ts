/**
 * `rateLimit.maxWait` bounds the whole wait inside tollgate (docs/config.md):
 * the time spent waiting for a token counts, so a request that waited for
 * the token queues only for what is left of maxWait.
 * Real peers: a slow token endpoint and an origin that holds the one slot.
 */
import { test, type TestContext } from 'node:test'
import { startSidecar } from '../helpers/sidecar.js'
import { startOrigin } from '../helpers/origin.js'
import { startRedis } from '../helpers/redis-server.js'
import { startTokenEndpoint, tokenReply } from '../helpers/token-endpoint.js'

const TOKEN_DELAY_MS = 800
const MAX_WAIT_MS = 1000

test('a request that waited for the token gets 503 TG_QUEUE_TIMEOUT when maxWait from its arrival is over, not maxWait after the token', async (t: TestContext) => {
  t.plan(3)
  // /hold keeps the only slot for longer than anyone waits.
  const origin = await startOrigin(t, (req, res) => {
    req.resume()
    req.on('end', () => setTimeout(() => res.end('ok'), req.url === '/hold' ? 2500 : 0))
  })
  const tokens = await startTokenEndpoint(t, async (_request, index) => {
    await new Promise((resolve) => setTimeout(resolve, TOKEN_DELAY_MS))
    return tokenReply(`max-wait-token-${index}`, 3600)
  })
  const sidecar = await startSidecar(t, {
    log: { level: 'warn' },
    upstreams: {
      a: {
        target: origin.url,
        rateLimit: { requests: 100, window: '1s', maxConcurrent: 1, maxWait: `${MAX_WAIT_MS}ms` },
        auth: { type: 'oauth2_client_credentials', tokenUrl: tokens.url, clientId: 'id', clientSecret: 'max-wait-secret' }
      }
    }
  })
  const holder = fetch(`${sidecar.url}/a/hold`, { signal: AbortSignal.timeout(6000) }).then(async (res) => { await res.arrayBuffer() })
  // Both wait for the one token fetch, which /hold started; then this one queues behind /hold.
  await tokens.waitForRequests(1)
  const arrived = performance.now()
  const res = await fetch(`${sidecar.url}/a/queued`, { signal: AbortSignal.timeout(6000) })
  const problem = await res.json() as { code?: string }
  const elapsed = performance.now() - arrived
  await holder
  t.assert.strictEqual(res.status, 503)
  t.assert.strictEqual(problem.code, 'TG_QUEUE_TIMEOUT')
  // Without the token wait counted it answers after ~TOKEN_DELAY_MS + MAX_WAIT_MS.
  t.assert.ok(elapsed < MAX_WAIT_MS + TOKEN_DELAY_MS / 2, `answered ${Math.round(elapsed)} ms after arrival (maxWait ${MAX_WAIT_MS} ms)`)
})

test('store.type redis: a token wait that used up maxWait still lets the request take a free slot (one round trip), as the memory store does', async (t: TestContext) => {
  const redis = await startRedis(t)
  if (redis === undefined) return
  const origin = await startOrigin(t, (req, res) => { req.resume(); res.end('ok') })
  const tokens = await startTokenEndpoint(t, async (_request, index) => {
    await new Promise((resolve) => setTimeout(resolve, 300))
    return tokenReply(`max-wait-redis-token-${index}`, 3600)
  })
  const config = (type: 'memory' | 'redis'): Record<string, unknown> => ({
    log: { level: 'warn' },
    store: type === 'redis' ? { type, url: redis.url, keyPrefix: 'max-wait-free-slot:' } : { type },
    upstreams: {
      a: {
        target: origin.url,
        rateLimit: { requests: 100, window: '1s', maxConcurrent: 1, maxWait: '50ms' },
        auth: { type: 'oauth2_client_credentials', tokenUrl: tokens.url, clientId: 'id', clientSecret: 'max-wait-redis-secret' }
      }
    }
  })
  for (const type of ['memory', 'redis'] as const) {
    const sidecar = await startSidecar(t, config(type))
    const res = await fetch(`${sidecar.url}/a/x`, { signal: AbortSignal.timeout(6000) })
    t.assert.deepStrictEqual([type, res.status, await res.text()], [type, 200, 'ok'], 'nobody holds the slot: the 300 ms token wait is no reason to refuse')
  }
})
