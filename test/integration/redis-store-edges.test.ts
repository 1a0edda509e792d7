/**
 * Edges of the shared store found by review, each on a real redis-server:
 * the connection's cool-down after an error answer on the monotonic clock,
 * a token value that is not of tollgate's form, and a 429 pause met while
 * Redis was lost.
 */
import { test, type TestContext } from 'node:test'
import type { StoreConfig } from '../../src/config/types.js'
import { RedisConnection } from '../../src/store/redis-client.js'
import { CLAIM_TOKEN } from '../../src/store/token-scripts.js'
import { Agent } from 'undici'
import { startOrigin, type Origin } from '../helpers/origin.js'
import { startRedis, waitFor } from '../helpers/redis-server.js'
import { startSidecar, type RunningSidecar } from '../helpers/sidecar.js'

function storeConfig (url: string, keyPrefix: string): StoreConfig {
  return { type: 'redis', url, keyPrefix, onUnavailable: 'local', commandTimeoutMs: 1000, unavailableAfterMs: 3000 }
}

test('the cool-down after an error answer ends on the monotonic clock: a wall clock stepped back an hour does not keep the store aside', async (t: TestContext) => {
  const redis = await startRedis(t)
  if (redis === undefined) return
  let monotonic = 1_000_000
  const connection = new RedisConnection(storeConfig(redis.url, 'cool:'), undefined, { now: () => monotonic })
  t.after(() => connection.close())
  t.assert.deepStrictEqual(await connection.start(), { ok: true })
  t.assert.strictEqual(connection.available, true)
  // An error answer (here a script error; OOM and READONLY are others): the store is set aside for a second.
  const broken = connection.script('tollgateTestBroken', 0, "return redis.call('NO-SUCH-COMMAND')")
  await t.assert.rejects(broken([], []), { name: 'ReplyError' })
  t.assert.strictEqual(connection.available, false, 'set aside at once')
  // The wall clock steps back an hour (NTP, a VM resumed), and a second passes.
  const wall = Date.now()
  t.mock.method(Date, 'now', () => wall - 3_600_000)
  monotonic += 1001
  t.assert.strictEqual(connection.available, true, 'the cool-down is a second long, whatever the wall clock did')
})

test('a token value not of tollgate\'s form is dropped by the claim, not a script error that sets the store aside', async (t: TestContext) => {
  const redis = await startRedis(t)
  if (redis === undefined) return
  const { client } = redis
  const base = 'odd:token:{vendor}:gen'
  await client.set(base, 'not-a-sealed-token', 'PX', 60_000)
  const reply = await client.eval(CLAIM_TOKEN, 4, base, `${base}:lock`, `${base}:failure`, `${base}:streak`, 'owner-1', 5000, 60_000, '', 'odd:events') as [string]
  t.assert.strictEqual(reply[0], 'fetch', 'the caller fetches a token')
  t.assert.strictEqual(await client.get(base), null, 'the odd value is gone')
})

/** The 429's retry-after in the pause tests. */
const PAUSE_S = 4

interface TwoReplicas {
  readonly a: RunningSidecar
  readonly b: RunningSidecar
  readonly origin: Origin
  /** GET through one replica: its status. */
  readonly get: (url: string) => Promise<number>
  /** When the pause of the vendor's 429 (to `/limited`) ends, on the test's clock. */
  readonly pauseEnd: () => number
}

/** Two replicas on one Redis in front of a vendor that answers `/limited` with 429 and `retry-after: PAUSE_S`, every other path 200. */
async function twoReplicas (t: TestContext, url: string, keyPrefix: string): Promise<TwoReplicas> {
  let refusedAt: number | undefined
  const origin = await startOrigin(t, (req, res, recorded) => {
    req.resume()
    if (req.url === '/limited') {
      refusedAt = recorded.startedAt
      res.writeHead(429, { 'retry-after': String(PAUSE_S) }).end()
      return
    }
    res.end('ok')
  })
  const [a, b] = await Promise.all([0, 1].map(() => startSidecar(t, {
    store: { type: 'redis', url, keyPrefix },
    upstreams: { vendor: { target: origin.url, retry: { on429: 0 } } }
  }))) as [RunningSidecar, RunningSidecar]
  const client = new Agent({ connections: 8 })
  t.after(() => client.close())
  const get = async (target: string): Promise<number> => {
    const res = await fetch(target, { dispatcher: client } as RequestInit)
    await res.arrayBuffer()
    return res.status
  }
  return {
    a,
    b,
    origin,
    get,
    pauseEnd: () => {
      if (refusedAt === undefined) throw new Error('the vendor has not answered /limited yet')
      return refusedAt + PAUSE_S * 1000
    }
  }
}

test('a 429 met while Redis is lost pauses the other replicas once Redis is back, for what is left of it', async (t: TestContext) => {
  const redis = await startRedis(t)
  if (redis === undefined) return
  const { a, b, get, origin, pauseEnd } = await twoReplicas(t, redis.url, 'lost-pause:')

  await redis.kill()
  await waitFor('a to notice', () => a.logs.text().includes('shared store unavailable'))
  t.assert.strictEqual(await get(`${a.url}/vendor/limited`), 429, 'the 429 is passed back (retry.on429: 0)')
  await redis.restart()
  await waitFor('both replicas back on the store', () => [a, b].every((s) => s.logs.text().includes('shared store available again')), 6000)
  // a writes its pause back once it is back (before that, nobody else can know of it): then b, whenever it came back, learns it.
  await waitFor('a to write its pause back', async () => await redis.client.exists('lost-pause:limit:{vendor}:pause') === 1, 3000)
  await waitFor('b to learn of it', async () => (await (await fetch(`${b.url}/status`)).json() as { upstreams: { vendor: { limiter: { pausedUntil?: number } } } }).upstreams.vendor.limiter.pausedUntil !== undefined, 3000)
  // Redis restarted empty; the pause a met must still hold b.
  t.assert.ok(performance.now() < pauseEnd() - 500, 'b asks well inside the pause')
  await get(`${b.url}/vendor/other`)
  const other = origin.requests.find((request) => request.url === '/other')
  if (other !== undefined) t.assert.ok(other.startedAt >= pauseEnd() - 5, `b reached the upstream ${Math.round(pauseEnd() - other.startedAt)} ms before the pause a met ended`)
})

test('a 429 whose pause could not be written (an error answer, the connection up) still pauses the other replicas: it is tried again', async (t: TestContext) => {
  const redis = await startRedis(t)
  if (redis === undefined) return
  const { a, b, get, origin, pauseEnd } = await twoReplicas(t, redis.url, 'oom-pause:')
  t.assert.deepStrictEqual([await get(`${a.url}/vendor/warm`), await get(`${b.url}/vendor/warm`)], [200, 200])

  // Every write is refused with OOM (noeviction) while the connections stay up: a's PAUSE fails.
  await redis.client.config('SET', 'maxmemory-policy', 'noeviction')
  await redis.client.config('SET', 'maxmemory', '1')
  t.assert.strictEqual(await get(`${a.url}/vendor/limited`), 429)
  await redis.client.config('SET', 'maxmemory', '0')
  // Past the retry (1 s) and the connection's cool-down, well inside the pause.
  await new Promise((resolve) => setTimeout(resolve, 1600))
  t.assert.ok(performance.now() < pauseEnd() - 1000, 'b asks well inside the pause')
  // /status (and the paused-until metric) say when, in epoch ms: not on the monotonic clock the limiter runs on.
  const { pausedUntil } = (await (await fetch(`${b.url}/status`)).json() as { upstreams: { vendor: { limiter: { pausedUntil?: number } } } }).upstreams.vendor.limiter
  t.assert.ok(pausedUntil !== undefined && pausedUntil > Date.now() && pausedUntil <= Date.now() + PAUSE_S * 1000, `b's /status says paused until ${String(pausedUntil)} (now ${Date.now()})`)
  await get(`${b.url}/vendor/other`)
  const other = origin.requests.find((request) => request.url === '/other')
  t.assert.ok(other !== undefined && other.startedAt >= pauseEnd() - 5, `b reached the upstream ${other === undefined ? '(never)' : Math.round(pauseEnd() - other.startedAt)} ms before the pause a met ended`)
})

test('a pause published while a replica\'s subscriber was reconnecting reaches it once it is subscribed again', async (t: TestContext) => {
  const redis = await startRedis(t)
  if (redis === undefined) return
  const { a, b, get, origin, pauseEnd } = await twoReplicas(t, redis.url, 'resubscribe-pause:')
  t.assert.deepStrictEqual([await get(`${a.url}/vendor/warm`), await get(`${b.url}/vendor/warm`)], [200, 200])
  // Every subscriber connection dropped (the command connections stay): a's PAUSE message goes out to nobody.
  await redis.client.call('CLIENT', 'KILL', 'TYPE', 'pubsub')
  t.assert.strictEqual(await get(`${a.url}/vendor/limited`), 429)
  // An upstream without rateLimit asks Redis nothing per request: b knows of a pause only by message, or by reading it.
  await new Promise((resolve) => setTimeout(resolve, 1000))
  t.assert.ok(performance.now() < pauseEnd() - 1000, 'b asks well inside the pause')
  await get(`${b.url}/vendor/other`)
  const other = origin.requests.find((request) => request.url === '/other')
  t.assert.ok(other !== undefined && other.startedAt >= pauseEnd() - 5, `b reached the upstream ${other === undefined ? '(never)' : Math.round(pauseEnd() - other.startedAt)} ms before the pause a met ended`)
})
