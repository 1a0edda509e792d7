/**
 * Issue 17, part 4: when Redis is lost, replicas keep the vendor's quota
 * together. Three sidecars on one redis-server under load; Redis is killed and
 * comes back empty (no persistence); the vendor's own recording of arrivals
 * must show at most N starts in every window W, before, during and after.
 */
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { test, type TestContext } from 'node:test'
import { Agent } from 'undici'
import { startRedis, waitFor, type RedisServer } from '../helpers/redis-server.js'
import { startSidecar, type RunningSidecar } from '../helpers/sidecar.js'

const N = 30
const WINDOW_MS = 2000
/** Kept down longer than a window, so both phases of the share (⌊R/k⌋, then ⌊N/k⌋) are seen. */
const OUTAGE_MS = 4500

interface Vendor { readonly url: string, readonly arrivals: number[], readonly from: string[] }

async function startVendor (t: TestContext): Promise<Vendor> {
  const arrivals: number[] = []
  const from: string[] = []
  const server = createServer((req, res) => {
    arrivals.push(performance.now())
    from.push(String(req.headers['x-replica']))
    req.resume()
    res.end('ok')
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.after(() => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()) }))
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, arrivals, from }
}

/** The most arrivals in any window of `windowMs` (each window starting at an arrival). */
function busiestWindow (arrivals: readonly number[], windowMs: number): number {
  const sorted = [...arrivals].sort((a, b) => a - b)
  let most = 0
  for (let i = 0, j = 0; i < sorted.length; i++) {
    while (j < sorted.length && (sorted[j] as number) < (sorted[i] as number) + windowMs) j++
    most = Math.max(most, j - i)
  }
  return most
}

async function replica (t: TestContext, redis: RedisServer, vendor: Vendor, extra: Record<string, unknown> = {}): Promise<RunningSidecar> {
  return await startSidecar(t, {
    log: { level: 'warn' },
    store: { type: 'redis', url: redis.url, keyPrefix: 'share:', onUnavailable: 'local', commandTimeout: '200ms', unavailableAfter: '600ms', ...extra },
    upstreams: { vendor: { target: vendor.url, headers: { 'x-replica': String(++replicas) }, rateLimit: { requests: N, window: `${WINDOW_MS}ms`, maxWait: '500ms' } } }
  })
}
let replicas = 0

/** Requests from `clients` loops until `until` says stop; how many were answered 200. */
function load (sidecar: RunningSidecar, clients: number, stop: { done: boolean }, agent: Agent): Promise<number> {
  return Promise.all(Array.from({ length: clients }, async () => {
    let ok = 0
    while (!stop.done) {
      const res = await fetch(`${sidecar.url}/vendor/x`, { dispatcher: agent } as RequestInit).catch(() => undefined)
      if (res === undefined) continue
      await res.arrayBuffer()
      if (res.status === 200) ok++
      // A refused request (503 after maxWait) is asked again at once: the limiter is what paces.
    }
    return ok
  })).then((counts) => counts.reduce((a, b) => a + b, 0))
}

/** Which replica (its x-replica header) each arrival came from, per 250 ms from the first: for a failure's message. */
function timeline (vendor: Vendor): string {
  const first = vendor.arrivals[0] ?? 0
  const bins: string[] = []
  vendor.arrivals.forEach((at, i) => { const bin = Math.floor((at - first) / 250); bins[bin] = `${bins[bin] ?? ''}${vendor.from[i]}` })
  return `arrivals per 250 ms by replica: ${Array.from(bins, (bin) => bin ?? '-').join(' ')}`
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

async function lose (redis: RedisServer, replicas: readonly RunningSidecar[]): Promise<number> {
  await redis.kill()
  const lostAt = performance.now()
  await waitFor('every replica to fall back', () => replicas.every((r) => r.sidecar.store.status().available === false), 3000)
  return lostAt
}

test('an even split: three loaded replicas keep N per window through a Redis loss and an empty restart, each at its share', async (t: TestContext) => {
  const redis = await startRedis(t)
  if (redis === undefined) return
  const vendor = await startVendor(t)
  const replicas = [await replica(t, redis, vendor), await replica(t, redis, vendor), await replica(t, redis, vendor)]
  const agent = new Agent({ connections: 32 })
  t.after(() => agent.close())
  await waitFor('each replica to see all three', () => replicas.every((r) => r.sidecar.store.status().replicasSeen === 3), 5000)

  const stop = { done: false }
  const loads = replicas.map((r) => load(r, 3, stop, agent))
  await sleep(WINDOW_MS * 1.5)
  const before = vendor.arrivals.length
  const lostAt = await lose(redis, replicas)
  await sleep(WINDOW_MS + 300)
  // After a window of ⌊R/3⌋, each replica may start ⌊N/3⌋ per window.
  const shares = replicas.map((r) => r.sidecar.upstreams[0]!.limiter.status().fallbackShare)
  t.assert.deepStrictEqual(shares, [N / 3, N / 3, N / 3], 'each replica its share, shown in /status')
  await sleep(OUTAGE_MS - WINDOW_MS - 300)
  const during = vendor.arrivals.length - before
  const backAt = performance.now()
  await redis.restart()
  await waitFor('every replica back on the shared window', () => replicas.every((r) => r.sidecar.store.status().available), 6000)
  await sleep(WINDOW_MS * 1.5)
  stop.done = true
  const served = await Promise.all(loads)

  t.assert.ok(during > 0, 'the replicas kept serving during the outage')
  t.assert.ok(served.every((n) => n > 0), `every replica served: ${served.join(', ')}`)
  const most = busiestWindow(vendor.arrivals, WINDOW_MS)
  t.assert.ok(most <= N, `${most} starts in one ${WINDOW_MS} ms window at the vendor; the limit is ${N}; lost at ${(lostAt - vendor.arrivals[0]!).toFixed(0)} ms, back at ${(backAt - vendor.arrivals[0]!).toFixed(0)} ms; ${timeline(vendor)}`)
})

test('an uneven split: an idle replica and one added just before the loss still keep N per window', async (t: TestContext) => {
  const redis = await startRedis(t)
  if (redis === undefined) return
  const vendor = await startVendor(t)
  const busy = await replica(t, redis, vendor)
  const idle = await replica(t, redis, vendor)
  const agent = new Agent({ connections: 32 })
  t.after(() => agent.close())
  await waitFor('both to see each other', () => [busy, idle].every((r) => r.sidecar.store.status().replicasSeen === 2), 5000)

  const stop = { done: false }
  const loads = [load(busy, 4, stop, agent)]
  await sleep(WINDOW_MS * 1.5)
  // A third replica joins a second before the loss, and starts taking load at once.
  const late = await replica(t, redis, vendor)
  loads.push(load(late, 4, stop, agent))
  await sleep(1000)
  const replicas = [busy, idle, late]
  await lose(redis, replicas)
  // The idle replica wakes up during the outage: it never acquired, so its first window starts nothing.
  loads.push(load(idle, 4, stop, agent))
  await sleep(OUTAGE_MS)
  await redis.restart()
  await waitFor('every replica back on the shared window', () => replicas.every((r) => r.sidecar.store.status().available), 6000)
  await sleep(WINDOW_MS * 1.5)
  stop.done = true
  await Promise.all(loads)

  const most = busiestWindow(vendor.arrivals, WINDOW_MS)
  t.assert.ok(most <= N, `${most} starts in one ${WINDOW_MS} ms window at the vendor; the limit is ${N}`)
  t.assert.ok(replicas.every((r) => (r.sidecar.store.status().replicasSeen ?? 0) >= 2), 'the replica set is seen again')
})

test('a replica that never saw the replica set starts nothing rate-limited while Redis is away, unless store.fallbackReplicas is set', async (t: TestContext) => {
  const vendor = await startVendor(t)
  const { freePort } = await import('../helpers/ports.js')
  const port = await freePort()
  const config = (extra: Record<string, unknown>): Record<string, unknown> => ({
    log: { level: 'error' },
    store: { type: 'redis', url: `redis://127.0.0.1:${port}`, keyPrefix: 'never:', onUnavailable: 'local', ...extra },
    upstreams: { vendor: { target: vendor.url, rateLimit: { requests: N, window: `${WINDOW_MS}ms`, maxWait: '300ms' } } }
  })
  const alone = await startSidecar(t, config({}))
  const refused = await fetch(`${alone.url}/vendor/x`)
  t.assert.strictEqual(refused.status, 503)
  t.assert.strictEqual(vendor.arrivals.length, 0, 'nothing reached the vendor')

  // Promised three replicas: ⌊N/3⌋ at once; the others wait maxWait (no unit frees within it) and get 503.
  const promised = await startSidecar(t, config({ fallbackReplicas: 3 }))
  const statuses = await Promise.all(Array.from({ length: N }, async () => (await fetch(`${promised.url}/vendor/x`)).status))
  t.assert.strictEqual(statuses.filter((s) => s === 200).length, N / 3, 'its share: N / fallbackReplicas per window')
  t.assert.strictEqual(promised.sidecar.upstreams[0]!.limiter.status().fallbackShare, N / 3, 'shown in /status')
})

test('a rolling config change: the shared window uses the smallest N and the longest W any live replica publishes', async (t: TestContext) => {
  const redis = await startRedis(t)
  if (redis === undefined) return
  const vendor = await startVendor(t)
  const config = (requests: number, window: string): Record<string, unknown> => ({
    log: { level: 'warn' },
    store: { type: 'redis', url: redis.url, keyPrefix: 'rolling:' },
    upstreams: { vendor: { target: vendor.url, rateLimit: { requests, window, maxWait: '200ms' } } }
  })
  const old = await startSidecar(t, config(10, '3s'))
  const updated = await startSidecar(t, config(20, '2s'))
  await waitFor('both to see each other', () => [old, updated].every((r) => r.sidecar.store.status().replicasSeen === 2), 5000)
  // Each learns the other's limits from its next heartbeat after the other's publish.
  await waitFor('both to use the strictest limits', () => [old, updated].every((r) => r.sidecar.upstreams[0]!.limiter.status().shared?.requests === 10), 3000)
  for (const replica of [old, updated]) {
    t.assert.deepStrictEqual(replica.sidecar.upstreams[0]!.limiter.status().shared, { requests: 10, windowMs: 3000 }, 'the strictest of both')
  }
  // The replica configured for 20 gets 10 all the same: the shared window is the old one's.
  const statuses = await Promise.all(Array.from({ length: 20 }, async () => (await fetch(`${updated.url}/vendor/x`)).status))
  t.assert.strictEqual(statuses.filter((s) => s === 200).length, 10)
})
