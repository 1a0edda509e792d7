/**
 * Issue 14 part 6, "slow is not down": a Redis that is slow for a moment is
 * not a lost Redis. A command that times out is handled for its own request
 * as `store.onUnavailable` says; the store is declared lost only when the
 * connection drops or commands have failed for `store.unavailableAfter`
 * (3 s) without a success, and back after 1 s of successes. Each flip is
 * logged once and counted.
 */
import { test, type TestContext } from 'node:test'
import { Redis } from 'ioredis'
import { Agent } from 'undici'
import { startOrigin } from '../helpers/origin.js'
import { parsePrometheus, valueOf } from '../helpers/prometheus.js'
import { redisSignaller, startRedis, waitFor, type RedisServer } from '../helpers/redis-server.js'
import { startSidecar, type RunningSidecar } from '../helpers/sidecar.js'
import { startTokenEndpoint, tokenReply } from '../helpers/token-endpoint.js'

const LOST = 'shared store unavailable'
const BACK = 'shared store available again'

/** Keeps Redis' only thread in a Lua loop for `ms`: every other client's commands wait meanwhile (below busy-reply-threshold, 5 s, none is refused). */
const BUSY = `
local function now() local t = redis.call('TIME') return tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000 end
local stop = now() + tonumber(ARGV[1])
while now() < stop do end
return 1`

/** Runs BUSY on a connection of its own; resolves with how long Redis was busy, as this client saw it. */
async function busy (t: TestContext, redis: RedisServer, ms: number): Promise<number> {
  const client = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 0 })
  client.on('error', () => {})
  t.after(() => client.disconnect())
  await client.connect()
  const startedAt = Date.now()
  await client.eval(BUSY, 0, ms)
  return Date.now() - startedAt
}

interface Answer { readonly status: number, readonly code?: string, readonly ms: number }

function getter (t: TestContext): (url: string) => Promise<Answer> {
  const client = new Agent({ connections: 32 })
  t.after(() => client.close())
  return async (url) => {
    const startedAt = Date.now()
    const res = await fetch(url, { dispatcher: client } as RequestInit)
    const body = await res.text()
    return { status: res.status, ms: Date.now() - startedAt, ...(res.status >= 400 ? { code: (JSON.parse(body) as { code: string }).code } : {}) }
  }
}

/** A request every `everyMs` until `until` resolves; resolves with every answer. */
async function traffic (get: (url: string) => Promise<Answer>, url: string, everyMs: number, until: Promise<unknown>): Promise<Answer[]> {
  const answers: Array<Promise<Answer>> = []
  const state = { done: false }
  const stop = (): void => { state.done = true }
  until.then(stop, stop)
  for (let i = 0; !state.done; i++) {
    answers.push(get(`${url}/${i}`))
    await new Promise((resolve) => setTimeout(resolve, everyMs))
  }
  return await Promise.all(answers)
}

function linesOf (sidecar: RunningSidecar, prefix: string): Array<Record<string, unknown>> {
  return sidecar.logs.entries().filter((entry) => typeof entry.msg === 'string' && entry.msg.startsWith(prefix))
}

async function outagesMetric (sidecar: RunningSidecar): Promise<number | undefined> {
  const res = await fetch(`${sidecar.url}/metrics`)
  return valueOf(parsePrometheus(await res.text()), 'tollgate_store_outages_total')
}

async function setup (t: TestContext, redis: RedisServer, keyPrefix: string, onUnavailable: 'local' | 'fail', rateLimit: boolean): Promise<{ sidecar: RunningSidecar, tokenRequests: () => number }> {
  const tokenEndpoint = await startTokenEndpoint(t, () => tokenReply('slow-test-token', 3600))
  const origin = await startOrigin(t, (req, res) => {
    req.resume()
    res.end('ok')
  })
  const sidecar = await startSidecar(t, {
    store: { type: 'redis', url: redis.url, keyPrefix, onUnavailable },
    upstreams: {
      vendor: {
        target: origin.url,
        auth: { type: 'oauth2_client_credentials', tokenUrl: tokenEndpoint.url, clientId: 'slow-client', clientSecret: 'slow-secret-41' },
        ...(rateLimit ? { rateLimit: { requests: 1000, window: '30s' } } : {})
      }
    }
  })
  return { sidecar, tokenRequests: () => tokenEndpoint.requests.length }
}

test('a 2 s busy script in Redis beside live traffic: no flip, no outage counted, every request answered', async (t: TestContext) => {
  const redis = await startRedis(t)
  if (redis === undefined) return
  const { sidecar } = await setup(t, redis, 'slow-busy:', 'local', true)
  const get = getter(t)
  t.assert.strictEqual((await get(`${sidecar.url}/vendor/warm`)).status, 200)

  const busyFor = new Promise<number>((resolve, reject) => setTimeout(() => { busy(t, redis, 2000).then(resolve, reject) }, 300))
  const answers = await traffic(get, `${sidecar.url}/vendor/busy`, 50, busyFor.then(() => new Promise((resolve) => setTimeout(resolve, 500))))
  t.assert.ok(await busyFor >= 1900, `Redis was busy ${await busyFor} ms`)

  t.assert.deepStrictEqual(answers.filter((a) => a.status !== 200), [], 'every request answered')
  const slowest = Math.max(...answers.map((a) => a.ms))
  t.diagnostic(`Redis busy ${await busyFor} ms; ${answers.length} requests, slowest ${slowest} ms`)
  t.assert.ok(slowest >= 900, `the busy script held the sidecar's commands up (slowest request ${slowest} ms)`)
  t.assert.deepStrictEqual(linesOf(sidecar, LOST), [], 'no "unavailable" line')
  const status = sidecar.sidecar.store.status()
  t.assert.strictEqual(status.outages, 0, 'no outage counted')
  t.assert.strictEqual(status.available, true)
  t.assert.strictEqual(await outagesMetric(sidecar), 0)
  t.assert.ok(!sidecar.logs.text().includes('slow-test-token'), 'the token reached the log')
  t.assert.ok(!sidecar.logs.text().includes('slow-secret-41'), 'the secret reached the log')
})

test('a token claim that times out is handled for that request alone: local fetches for itself, fail answers 503; neither flips the store', async (t: TestContext) => {
  const redis = await startRedis(t)
  if (redis === undefined) return
  // No rateLimit: the token is the only thing these requests need Redis for.
  const local = await setup(t, redis, 'slow-claim-local:', 'local', false)
  const fail = await setup(t, redis, 'slow-claim-fail:', 'fail', false)
  const get = getter(t)

  const busyFor = busy(t, redis, 2000)
  await new Promise((resolve) => setTimeout(resolve, 100))
  const [alone, refused] = await Promise.all([get(`${local.sidecar.url}/vendor/first`), get(`${fail.sidecar.url}/vendor/first`)])
  t.assert.strictEqual(alone.status, 200, 'local: this replica fetched a token for itself')
  t.assert.strictEqual(local.tokenRequests(), 1)
  t.assert.deepStrictEqual([refused.status, refused.code], [503, 'TG_STORE_UNAVAILABLE'], 'fail: 503 for that request')
  t.assert.ok(alone.ms < 1900 && refused.ms < 1900, `answered at the command timeout, not at the end of the busy script (${alone.ms}, ${refused.ms} ms)`)
  await busyFor

  t.assert.strictEqual((await get(`${fail.sidecar.url}/vendor/after`)).status, 200, 'fail: the next request, Redis answering, is served')
  for (const { sidecar } of [local, fail]) {
    t.assert.deepStrictEqual(linesOf(sidecar, LOST), [], 'no "unavailable" line')
    t.assert.deepStrictEqual({ ...sidecar.sidecar.store.status(), unavailableSince: undefined, replicasSeen: undefined }, { type: 'redis', available: true, onUnavailable: sidecar === local.sidecar ? 'local' : 'fail', outages: 0, unavailableSince: undefined, replicasSeen: undefined })
  }
})

test('Redis stopped (SIGSTOP) for 5 s: lost once, after unavailableAfter of failures, logged once; back after 1 s of successes', async (t: TestContext) => {
  const redis = await startRedis(t)
  if (redis === undefined) return
  const { sidecar } = await setup(t, redis, 'slow-stopped:', 'local', true)
  const get = getter(t)
  t.assert.strictEqual((await get(`${sidecar.url}/vendor/warm`)).status, 200)

  const signal = await redisSignaller(t, redis)
  let stoppedAt = 0
  let resumedAt = 0
  const stopped = (async () => {
    signal('SIGSTOP')
    stoppedAt = Date.now()
    await new Promise((resolve) => setTimeout(resolve, 2500))
    // One command timed out long ago (1 s): not lost yet.
    t.assert.deepStrictEqual([sidecar.sidecar.store.status().outages, linesOf(sidecar, LOST).length], [0, 0], 'not lost after 2.5 s of a silent Redis')
    await new Promise((resolve) => setTimeout(resolve, 5000 - (Date.now() - stoppedAt)))
    t.assert.deepStrictEqual([sidecar.sidecar.store.status().outages, linesOf(sidecar, LOST).length], [1, 1], 'lost by 5 s')
    signal('SIGCONT')
    resumedAt = Date.now()
  })()
  const answers = await traffic(get, `${sidecar.url}/vendor/stopped`, 100, stopped)
  await stopped
  t.assert.deepStrictEqual(answers.filter((a) => a.status !== 200), [], 'local: every request answered')

  await waitFor('the store to be back', () => linesOf(sidecar, BACK).length > 0, 8000)
  const back = linesOf(sidecar, BACK)
  t.assert.strictEqual(back.length, 1, 'back: logged once')
  t.assert.ok((back[0]?.time as number) - resumedAt >= 1000, `back only after 1 s of successes (${(back[0]?.time as number) - resumedAt} ms after SIGCONT)`)
  t.assert.strictEqual(sidecar.sidecar.store.status().available, true)
  t.assert.strictEqual((await get(`${sidecar.url}/vendor/back`)).status, 200)

  const lost = linesOf(sidecar, LOST)
  t.assert.strictEqual(lost.length, 1, 'lost: logged once')
  const lostAfter = (lost[0]?.time as number) - stoppedAt
  t.diagnostic(`lost ${lostAfter} ms after SIGSTOP, back ${(back[0]?.time as number) - resumedAt} ms after SIGCONT; slowest request ${Math.max(...answers.map((a) => a.ms))} ms`)
  t.assert.ok(lostAfter >= 3000, `lost only after unavailableAfter (3 s) of failures (${lostAfter} ms after SIGSTOP)`)
  t.assert.strictEqual(lost[0]?.level, 40, 'lost: warn')
  t.assert.strictEqual(back[0]?.level, 30, 'back: info')
  t.assert.strictEqual(sidecar.sidecar.store.status().outages, 1, 'exactly one outage')
  t.assert.strictEqual(await outagesMetric(sidecar), 1)
})
