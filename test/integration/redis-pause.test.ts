/**
 * store.type: redis — a 429 seen by one replica pauses the upstream for all
 * of them, with or without a rateLimit on it.
 */
import { test, type TestContext } from 'node:test'
import { Agent } from 'undici'
import { startOrigin } from '../helpers/origin.js'
import { startRedis, waitFor } from '../helpers/redis-server.js'
import { startSidecar, type RunningSidecar } from '../helpers/sidecar.js'

const PAUSE_MS = 1000
/** Clock granularity between the origin's record and Redis' TIME on one machine. */
const EPSILON_MS = 5

for (const limited of [true, false]) {
  test(`a 429 at one replica pauses all replicas (${limited ? 'with' : 'without'} a rateLimit)`, async (t: TestContext) => {
    const redis = await startRedis(t)
    if (redis === undefined) return
    let refusedAt: number | undefined
    const origin = await startOrigin(t, (req, res, recorded) => {
      req.resume()
      if (req.url === '/limited' && refusedAt === undefined) {
        refusedAt = recorded.startedAt
        res.writeHead(429, { 'retry-after': String(PAUSE_MS / 1000) }).end()
        return
      }
      res.end('ok')
    })
    const fleet = await Promise.all([0, 1, 2].map(() => startSidecar(t, {
      store: { type: 'redis', url: redis.url, keyPrefix: 'pause-test:' },
      upstreams: { vendor: { target: origin.url, ...(limited ? { rateLimit: { requests: 100, window: '1s' } } : {}) } }
    })))
    const [a, b, c] = fleet as [RunningSidecar, RunningSidecar, RunningSidecar]
    const client = new Agent({ connections: 16 })
    t.after(() => client.close())

    // a meets the 429; it waits the pause out and retries by itself.
    const first = fetch(`${a.url}/vendor/limited`, { dispatcher: client } as RequestInit)
    await waitFor('the pause to reach Redis', async () => await redis.client.exists('pause-test:limit:{vendor}:pause') === 1)
    const limiterOf = (sidecar: RunningSidecar) => sidecar.sidecar.upstreams[0]?.limiter
    // Without a window, b and c learn of the pause from the channel; with one, ACQUIRE refuses them
    // anyway (the pause is in Redis), so they are not given the time to hear of it first.
    if (!limited) await waitFor('b and c to learn of the pause', () => [b, c].every((s) => limiterOf(s)?.status().pausedUntil !== undefined), 2000)
    const sentAt = performance.now()
    const others = await Promise.all([b, c, b, c].map(async (sidecar, i) => {
      const res = await fetch(`${sidecar.url}/vendor/other/${i}`, { dispatcher: client } as RequestInit)
      await res.arrayBuffer()
      return res.status
    }))
    const res = await first
    await res.arrayBuffer()

    t.assert.strictEqual(res.status, 200, 'a retried after the pause')
    t.assert.deepStrictEqual(others, [200, 200, 200, 200])
    const pauseEnd = (refusedAt as number) + PAUSE_MS
    t.assert.ok(sentAt < pauseEnd - 200, 'b and c were asked well inside the pause')
    const after = origin.requests.slice(1)
    t.assert.strictEqual(after.length, 5)
    for (const request of after) {
      t.assert.ok(request.startedAt >= pauseEnd - EPSILON_MS, `${request.url} reached the upstream ${Math.round(pauseEnd - request.startedAt)} ms before the pause ended`)
      // Liveness, loosely: they resume when it ends (tens of ms on an idle machine; CI machines are not idle).
      t.assert.ok(request.startedAt < pauseEnd + 1000, `${request.url} started ${Math.round(request.startedAt - pauseEnd)} ms after the pause ended`)
    }
    const counters = fleet.map((s) => limiterOf(s)?.status().counters)
    t.assert.deepStrictEqual(counters.map((k) => k?.observed429), [1, 0, 0], 'only a saw the 429')
  })
}
