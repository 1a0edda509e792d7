/**
 * store.type: redis — Redis lost while running: requests in flight finish;
 * meanwhile `onUnavailable: local` answers on per-process state and `fail`
 * answers 503 TG_STORE_UNAVAILABLE; when Redis returns, shared state resumes
 * without a restart (starts made meanwhile are written back).
 */
import { test, type TestContext } from 'node:test'
import { Agent } from 'undici'
import { startOrigin } from '../helpers/origin.js'
import { redisSignaller, startRedis, waitFor, windowUnits } from '../helpers/redis-server.js'
import { startSidecar, type RunningSidecar } from '../helpers/sidecar.js'
import { startTokenEndpoint, tokenReply } from '../helpers/token-endpoint.js'

test('Redis killed mid-run and restarted: nothing in flight is lost, local carries on, fail refuses, and sharing resumes', async (t: TestContext) => {
  const redis = await startRedis(t)
  if (redis === undefined) return
  const tokenEndpoint = await startTokenEndpoint(t, () => tokenReply('fault-test-token', 3600))
  const origin = await startOrigin(t, (req, res) => {
    req.resume()
    setTimeout(() => res.end('ok'), req.url?.startsWith('/slow') === true ? 400 : 0)
  })
  const start = (onUnavailable: 'local' | 'fail'): Promise<RunningSidecar> => startSidecar(t, {
    store: { type: 'redis', url: redis.url, keyPrefix: 'fault-test:', onUnavailable },
    upstreams: {
      vendor: {
        target: origin.url,
        auth: { type: 'oauth2_client_credentials', tokenUrl: tokenEndpoint.url, clientId: 'fault-client', clientSecret: 'fault-secret-77' },
        rateLimit: { requests: 50, window: '30s' }
      }
    }
  })
  const local = await start('local')
  const fail = await start('fail')
  const client = new Agent({ connections: 16 })
  t.after(() => client.close())
  const get = async (url: string): Promise<{ status: number, code?: string, retryAfter: string | null }> => {
    const res = await fetch(url, { dispatcher: client } as RequestInit)
    const body = await res.text()
    return { status: res.status, retryAfter: res.headers.get('retry-after'), ...(res.status >= 400 ? { code: (JSON.parse(body) as { code: string }).code } : {}) }
  }

  t.assert.strictEqual((await get(`${local.url}/vendor/warm`)).status, 200)
  t.assert.strictEqual((await get(`${fail.url}/vendor/warm`)).status, 200)

  // Two slow requests are at the upstream when Redis dies.
  const inFlight = [get(`${local.url}/vendor/slow/1`), get(`${fail.url}/vendor/slow/2`)]
  await waitFor('both slow requests at the upstream', () => origin.requests.filter((r) => r.url.startsWith('/slow')).length === 2)
  await redis.kill()
  t.assert.deepStrictEqual((await Promise.all(inFlight)).map((r) => r.status), [200, 200], 'requests in flight are not lost')
  await waitFor('both sidecars to notice', () => [local, fail].every((s) => s.logs.text().includes('shared store unavailable')))

  const during = await Promise.all([1, 2, 3, 4, 5].map((i) => get(`${local.url}/vendor/outage/${i}`)))
  t.assert.deepStrictEqual(during.map((r) => r.status), [200, 200, 200, 200, 200], 'local: answered on per-process state')
  const refused = await get(`${fail.url}/vendor/outage/6`)
  t.assert.deepStrictEqual(refused, { status: 503, code: 'TG_STORE_UNAVAILABLE', retryAfter: '1' }, 'fail: 503 with Retry-After')

  await redis.restart()
  await waitFor('both sidecars to reconnect', () => [local, fail].every((s) => s.logs.text().includes('shared store available again')), 5000)
  t.assert.strictEqual((await get(`${local.url}/vendor/back/1`)).status, 200)
  t.assert.strictEqual((await get(`${fail.url}/vendor/back/2`)).status, 200)

  // The restarted Redis is empty; each replica writes back every start of its window (issue 17):
  // it now knows them all: the 2 warm-ups it lost, the 2 answered while it was down, the 5 made
  // without it, and the 2 made since.
  await waitFor('the shared window to hold every recent start', async () => await windowUnits(redis.client, 'fault-test:', 'vendor', 'starts') === 11, 2000)
  t.assert.strictEqual(tokenEndpoint.requests.length, 1, 'the token held locally served through the outage')
  for (const sidecar of [local, fail]) t.assert.ok(!sidecar.logs.text().includes('fault-test-token'), 'the token reached the log')
})

test('many starts made during an outage come back to Redis as one count per bucket, all of them', async (t: TestContext) => {
  const redis = await startRedis(t)
  if (redis === undefined) return
  const origin = await startOrigin(t, (req, res) => {
    req.resume()
    res.end('ok')
  })
  const sidecar = await startSidecar(t, {
    store: { type: 'redis', url: redis.url, keyPrefix: 'resync-test:', onUnavailable: 'local' },
    upstreams: { vendor: { target: origin.url, rateLimit: { requests: 1000, window: '20s' } } }
  })
  const client = new Agent({ connections: 8 })
  t.after(() => client.close())
  const get = async (path: string): Promise<number> => {
    const res = await fetch(`${sidecar.url}/vendor/${path}`, { dispatcher: client } as RequestInit)
    await res.arrayBuffer()
    return res.status
  }
  t.assert.strictEqual(await get('warm'), 200)
  await redis.kill()
  await waitFor('the sidecar to notice', () => sidecar.logs.text().includes('shared store unavailable'))
  const startedAt = performance.now()
  const statuses = await Promise.all(Array.from({ length: 300 }, (_, i) => get(`outage/${i}`)))
  const outageMs = performance.now() - startedAt
  t.assert.deepStrictEqual(new Set(statuses), new Set([200]))

  await redis.restart()
  await waitFor('the sidecar to reconnect', () => sidecar.logs.text().includes('shared store available again'), 8000)
  // Redis came back empty: the replica writes back its whole window, the warm-up Redis lost and the 300 made alone.
  await waitFor('the 301 starts of the window in the shared one', async () => await windowUnits(redis.client, 'resync-test:', 'vendor', 'starts') === 301, 3000)
  // One count per bucket (window / 100 = 200 ms) they fell in, not one entry per start.
  const buckets = await redis.client.hlen('resync-test:limit:{vendor}:starts')
  t.assert.ok(buckets <= Math.ceil(outageMs / 200) + 2, `${buckets} buckets for ${Math.round(outageMs)} ms of starts`)
})

test('commands a stopped Redis runs late, after their callers gave up, hold no window unit', async (t: TestContext) => {
  const redis = await startRedis(t)
  if (redis === undefined) return
  const signal = await redisSignaller(t, redis)
  const origin = await startOrigin(t, (req, res) => {
    req.resume()
    res.end('ok')
  })
  const sidecar = await startSidecar(t, {
    store: { type: 'redis', url: redis.url, keyPrefix: 'late-test:', onUnavailable: 'local' },
    upstreams: { vendor: { target: origin.url, rateLimit: { requests: 50, window: '1s', maxWait: '10s' } } }
  })
  const client = new Agent({ connections: 16 })
  t.after(() => client.close())
  const load = { on: true }
  let sent = 0
  // Closed-loop load: the queue always waits on Redis for units.
  const loops = Array.from({ length: 8 }, async () => {
    while (load.on) {
      const res = await fetch(`${sidecar.url}/vendor/r/${sent++}`, { dispatcher: client } as RequestInit)
      await res.arrayBuffer()
    }
  })
  await new Promise((resolve) => setTimeout(resolve, 500))
  signal('SIGSTOP')
  // Longer than the command timeout: the ACQUIREs waiting in Redis' socket are given up on.
  await new Promise((resolve) => setTimeout(resolve, 2500))
  signal('SIGCONT')
  await new Promise((resolve) => setTimeout(resolve, 1500))
  load.on = false
  await Promise.all(loops)
  // Every request has its answer: nothing is pending any more, unless Redis handed units to callers that had gone.
  let pending = -1
  const settled = await waitFor('every pending unit settled', async () => (pending = await windowUnits(redis.client, 'late-test:', 'vendor', 'pending')) === 0, 3000).then(() => true, () => false)
  t.assert.ok(settled, `${pending} units still pending with no request in flight (held until their hold ends, ~35 s)`)
  t.diagnostic(`${sent} requests`)
})
