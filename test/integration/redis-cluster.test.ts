/**
 * store.cluster (issue 17 part 3): three sidecars on a three-primary Redis
 * Cluster (`redis-cli --cluster create`, loopback), through ioredis' Cluster
 * client. Three upstreams whose hash tags live on three different primaries:
 * one shared window, one token fetch, one 429 pause seen by all (the pause
 * of an upstream without a window travels by pub/sub alone). Every script
 * touches one slot: no node counts an error, and each upstream's keys share
 * one slot. tollgate runs as an ACL user with the rules docs/scaling.md
 * gives for a cluster, and no node denies it anything.
 */
import { test, type TestContext } from 'node:test'
import { Agent } from 'undici'
import { startOrigin } from '../helpers/origin.js'
import { waitFor } from '../helpers/redis-server.js'
import { startRedisCluster } from '../helpers/redis-topology.js'
import { startSidecar, type RunningSidecar } from '../helpers/sidecar.js'
import { startTokenEndpoint, tokenReply } from '../helpers/token-endpoint.js'
import { maxInAnyWindow } from '../helpers/window.js'

const PREFIX = 'cluster-test:'
const REQUESTS = 6
const WINDOW_MS = 600
const PAUSE_MS = 1000
const PASSWORD = 'cluster-acl-password-6e'
/** docs/scaling.md: the standalone rules, plus what ioredis' Cluster client asks (the slot map, the state, its subscriber's name). */
const ACL_RULES = ['on', `>${PASSWORD}`, `~${PREFIX}*`, `&${PREFIX}events`, '+@read', '+@write', '+@scripting', '+publish', '+subscribe', '+ping', '+info', '+time', '+cluster|slots', '+cluster|info', '+client|setname']

async function get (url: string, dispatcher: Agent): Promise<number> {
  const res = await fetch(url, { dispatcher } as RequestInit)
  await res.arrayBuffer()
  return res.status
}

test('three replicas on a Redis Cluster: one window, one token fetch, one 429 pause, every script on one slot', async (t: TestContext) => {
  // Added before the cluster's own hooks, so it runs first (node:test runs t.after hooks in the order they were
  // added): the sidecars close while the nodes are there. With every node gone, ioredis' ClusterSubscriber
  // disconnects the same socket over and over, a 'close' listener each time (redis/ioredis#1792).
  const fleet: RunningSidecar[] = []
  t.after(() => Promise.all(fleet.map((sidecar) => sidecar.close())))
  const cluster = await startRedisCluster(t)
  if (cluster === undefined) return
  // The three upstreams' hash tags live on three different primaries.
  const owners = await Promise.all(['limited', 'tokened', 'paused'].map(async (name) => {
    const slot = await cluster.client.cluster('KEYSLOT', `{${name}}`)
    const ranges = await cluster.client.cluster('SLOTS')
    return ranges.find(([from, to]) => slot >= from && slot <= to)?.[2]?.[1]
  }))
  t.assert.strictEqual(new Set(owners).size, 3, `the upstreams share primaries: ${owners.join(', ')}`)
  // ACL users are per node.
  await Promise.all(cluster.direct.map(async (node) => {
    await node.call('ACL', 'SETUSER', 'tollgate', ...ACL_RULES)
    await node.call('ACL', 'LOG', 'RESET')
  }))

  const tokenEndpoint = await startTokenEndpoint(t, async () => {
    // Slow enough that every replica asks while the first fetch is in flight.
    await new Promise((resolve) => setTimeout(resolve, 150))
    return tokenReply('cluster-token-1', 3600)
  })
  let refusedAt: number | undefined
  const origin = await startOrigin(t, (req, res, recorded) => {
    req.resume()
    if (req.url === '/paused/first' && refusedAt === undefined) {
      refusedAt = recorded.startedAt
      res.writeHead(429, { 'retry-after': String(PAUSE_MS / 1000) }).end()
      return
    }
    setTimeout(() => res.end('ok'), req.url?.startsWith('/limited') === true ? 20 : 0)
  })
  fleet.push(...await Promise.all([0, 1, 2].map(() => startSidecar(t, {
    store: { type: 'redis', cluster: cluster.nodes, username: 'tollgate', password: PASSWORD, keyPrefix: PREFIX, onUnavailable: 'fail' },
    upstreams: {
      limited: { target: `${origin.url}/limited`, rateLimit: { requests: REQUESTS, window: `${WINDOW_MS}ms`, maxWait: '20s' } },
      tokened: { target: `${origin.url}/tokened`, auth: { type: 'oauth2_client_credentials', tokenUrl: tokenEndpoint.url, clientId: 'cluster-client', clientSecret: 'cluster-secret-5b' } },
      paused: { target: `${origin.url}/paused` }
    }
  }))))
  const [a, b, c] = fleet as [RunningSidecar, RunningSidecar, RunningSidecar]
  const client = new Agent({ connections: 64 })
  t.after(() => client.close())

  await t.test('one sliding window across the three replicas', async (t: TestContext) => {
    const total = 24
    const statuses = await Promise.all(Array.from({ length: total }, (_, i) => get(`${fleet[i % 3]?.url}/limited/r/${i}`, client)))
    t.assert.deepStrictEqual(new Set(statuses), new Set([200]))
    const starts = origin.requests.filter((r) => r.url.startsWith('/limited')).map((r) => r.startedAt)
    t.assert.strictEqual(starts.length, total)
    t.assert.ok(maxInAnyWindow(starts, WINDOW_MS) <= REQUESTS, `${maxInAnyWindow(starts, WINDOW_MS)} starts in one ${WINDOW_MS} ms window`)
    for (const sidecar of fleet) t.assert.ok((sidecar.sidecar.upstreams[0]?.limiter.status().counters.started ?? 0) > 0, 'a replica took no part')
  })

  await t.test('one token fetch for the three replicas', async (t: TestContext) => {
    const statuses = await Promise.all(Array.from({ length: 30 }, (_, i) => get(`${fleet[i % 3]?.url}/tokened/p/${i}`, client)))
    t.assert.deepStrictEqual(new Set(statuses), new Set([200]))
    t.assert.strictEqual(tokenEndpoint.requests.length, 1)
    const used = new Set(origin.requests.filter((r) => r.url.startsWith('/tokened')).map((r) => r.headers.authorization))
    t.assert.deepStrictEqual(used, new Set(['Bearer cluster-token-1']))
  })

  await t.test('a 429 at one replica pauses the upstream at all three (no window: by pub/sub alone)', async (t: TestContext) => {
    const first = fetch(`${a.url}/paused/first`, { dispatcher: client } as RequestInit)
    const pausedAt = (sidecar: RunningSidecar): number | undefined => sidecar.sidecar.upstreams[2]?.limiter.status().pausedUntil
    await waitFor('b and c to learn of the pause', () => [b, c].every((sidecar) => pausedAt(sidecar) !== undefined), 3000)
    const others = await Promise.all([b, c, b, c].map((sidecar, i) => get(`${sidecar.url}/paused/other/${i}`, client)))
    const res = await first
    await res.arrayBuffer()
    t.assert.strictEqual(res.status, 200, 'a retried after the pause')
    t.assert.deepStrictEqual(others, [200, 200, 200, 200])
    const pauseEnd = (refusedAt as number) + PAUSE_MS
    for (const request of origin.requests.filter((r) => r.url.startsWith('/paused/other'))) {
      t.assert.ok(request.startedAt >= pauseEnd - 5, `${request.url} reached the upstream ${Math.round(pauseEnd - request.startedAt)} ms before the pause ended`)
    }
  })

  await t.test('every script touched one slot: no node counted an error, and each upstream\'s keys share a slot', async (t: TestContext) => {
    // Per node: no EVAL / EVALSHA failed (a script error), and no error but a redirect (MOVED, ASK: the client
    // follows it) and ERR (ioredis' CLIENT SETINFO, which Redis 7.0 does not have) was answered: no CROSSSLOT.
    const stats = (await Promise.all(cluster.direct.map(async (node) => (await node.info('commandstats')).split('\r\n').filter((line) => /^cmdstat_eval(sha)?:/.test(line))))).flat()
    t.assert.ok(stats.length >= 3, `scripts ran on ${stats.length} node(s)`)
    for (const line of stats) t.assert.match(line, /,failed_calls=0$/)
    const errors = (await Promise.all(cluster.direct.map(async (node) => (await node.info('errorstats')).split('\r\n')))).flat()
    t.assert.deepStrictEqual(errors.filter((line) => line.startsWith('errorstat_') && !/^errorstat_(ERR|MOVED|ASK):/.test(line)), [])
    const keys = (await Promise.all(cluster.direct.map((node) => node.keys(`${PREFIX}*`)))).flat()
    const slots = new Map<string, Set<number>>()
    for (const key of keys) {
      const tag = /\{([^}]+)\}/.exec(key)?.[1] ?? key
      const slot = await cluster.client.cluster('KEYSLOT', key)
      slots.set(tag, (slots.get(tag) ?? new Set()).add(slot))
    }
    // The global keys, one slot each: the deployment salt and the replica set (issue 17 part 4).
    t.assert.deepStrictEqual([...slots.keys()].sort(), [`${PREFIX}replicas`, `${PREFIX}salt`, 'limited', 'paused', 'tokened'])
    for (const [tag, set] of slots) t.assert.strictEqual(set.size, 1, `${tag}'s keys are spread over slots ${[...set].join(', ')}`)
    const denied = await Promise.all(cluster.direct.map((node) => node.call('ACL', 'LOG')))
    t.assert.deepStrictEqual(denied, [[], [], []], 'a node denied tollgate a command, key or channel')
    for (const sidecar of fleet) t.assert.ok(!sidecar.logs.text().includes(PASSWORD), 'the password reached the log')
  })
})
