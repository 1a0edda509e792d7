/**
 * store.type: redis — replicas share one token: one token request at a cold
 * start across replicas, a 401 at one invalidates it for all, and what Redis
 * holds is sealed (AES-256-GCM) so a dump leaks nothing usable.
 */
import { createHmac } from 'node:crypto'
import { test, type TestContext } from 'node:test'
import { Agent } from 'undici'
import { credentialKey, credentialMaterial } from '../../src/auth/fingerprint.js'
import type { OAuth2ClientCredentialsAuth } from '../../src/config/types.js'
import { createTokenSealer } from '../../src/store/token-crypto.js'
import { startOrigin } from '../helpers/origin.js'
import { startRedis, waitFor, type RedisServer } from '../helpers/redis-server.js'
import { startSidecar, type RunningSidecar } from '../helpers/sidecar.js'
import { startTokenEndpoint, tokenReply, type TokenEndpoint } from '../helpers/token-endpoint.js'

const SECRET = 'shared-token-test-secret-4f1a'

async function sidecars (t: TestContext, count: number, redis: RedisServer, tokenEndpoint: TokenEndpoint, target: string, store: Record<string, unknown> = {}): Promise<RunningSidecar[]> {
  return await Promise.all(Array.from({ length: count }, () => startSidecar(t, {
    store: { type: 'redis', url: redis.url, keyPrefix: 'token-test:', ...store },
    upstreams: {
      vendor: {
        target,
        auth: { type: 'oauth2_client_credentials', tokenUrl: tokenEndpoint.url, clientId: 'shared-client', clientSecret: SECRET }
      }
    }
  })))
}

async function get (url: string, dispatcher: Agent): Promise<number> {
  const res = await fetch(url, { dispatcher } as RequestInit)
  await res.arrayBuffer()
  return res.status
}

function assertNoSecretsLogged (t: TestContext, fleet: readonly RunningSidecar[], tokens: readonly string[]): void {
  for (const sidecar of fleet) {
    const log = sidecar.logs.text()
    for (const value of [SECRET, ...tokens]) t.assert.ok(!log.includes(value), 'a secret or token reached the log')
  }
}

test('a cold start across three replicas makes one token request, and every replica uses that token', async (t: TestContext) => {
  const redis = await startRedis(t)
  if (redis === undefined) return
  let issued = 0
  const tokenEndpoint = await startTokenEndpoint(t, async () => {
    // Slow enough that every replica asks while the first fetch is in flight.
    await new Promise((resolve) => setTimeout(resolve, 150))
    return tokenReply(`cold-start-token-${++issued}`, 3600)
  })
  const seen: string[] = []
  const origin = await startOrigin(t, (req, res) => {
    seen.push(req.headers.authorization ?? '')
    req.resume()
    res.end('ok')
  })
  const fleet = await sidecars(t, 3, redis, tokenEndpoint, origin.url)
  const client = new Agent({ connections: 64 })
  t.after(() => client.close())

  const statuses = await Promise.all(Array.from({ length: 60 }, (_, i) => get(`${fleet[i % 3]?.url}/vendor/p/${i}`, client)))

  t.assert.deepStrictEqual(new Set(statuses), new Set([200]))
  t.assert.strictEqual(tokenEndpoint.requests.length, 1, 'one token request for all replicas')
  t.assert.strictEqual(seen.length, 60)
  t.assert.deepStrictEqual(new Set(seen), new Set(['Bearer cold-start-token-1']))

  // At rest: sealed, under the key prefix, with a TTL; readable only with the key derived from the credentials.
  const keys = await redis.client.keys('token-test:token:*')
  const valueKey = keys.find((key) => /^token-test:token:\{vendor\}:[\w-]{22}$/.test(key))
  t.assert.ok(valueKey !== undefined, `no token entry among ${keys.join(', ')}`)
  // The name is an HMAC under the deployment's salt: no digest of the credentials a reader could test guesses against.
  const auth = fleet[0]?.sidecar.config.upstreams[0]?.auth as OAuth2ClientCredentialsAuth
  const key = credentialKey('vendor', auth)
  t.assert.ok(keys.every((name) => !name.includes(key.split(':')[1] as string)), 'a key name carries the credentials\' digest')
  const salt = await redis.client.get('token-test:salt') ?? ''
  t.assert.ok(Buffer.from(salt, 'base64url').length === 32, 'a 256-bit deployment salt')
  t.assert.strictEqual(valueKey, `token-test:token:{vendor}:${createHmac('sha256', salt).update(credentialMaterial(auth)).digest('base64url').slice(0, 22)}`)
  const stored = await redis.client.get(valueKey as string) ?? ''
  t.assert.ok(!stored.includes('cold-start-token-1'), 'the token is stored in clear')
  t.assert.ok(!stored.includes(Buffer.from('cold-start-token-1').toString('base64url')), 'the token is merely encoded')
  const ttl = await redis.client.pttl(valueKey as string)
  t.assert.ok(ttl > 3_500_000 && ttl <= 3_600_000, `stored for ${ttl} ms`)
  t.assert.strictEqual(createTokenSealer(credentialMaterial(auth), key).open(valueKey as string, stored)?.token, 'cold-start-token-1')
  t.assert.strictEqual(createTokenSealer('some-other-encryption-key', key).open(valueKey as string, stored), undefined)
  t.assert.strictEqual(createTokenSealer(credentialMaterial(auth), key).open('token-test:elsewhere', stored), undefined, 'bound to its key name')
  assertNoSecretsLogged(t, fleet, ['cold-start-token-1'])
})

test('a 401 at one replica invalidates the token for all: the others drop it before they use it again', async (t: TestContext) => {
  const redis = await startRedis(t)
  if (redis === undefined) return
  let issued = 0
  const tokenEndpoint = await startTokenEndpoint(t, () => tokenReply(`rotating-token-${++issued}`, 3600))
  let revoked = ''
  const answers: Array<{ authorization: string, status: number }> = []
  const origin = await startOrigin(t, (req, res) => {
    req.resume()
    const authorization = req.headers.authorization ?? ''
    const status = authorization === revoked ? 401 : 200
    answers.push({ authorization, status })
    res.writeHead(status).end()
  })
  const fleet = await sidecars(t, 3, redis, tokenEndpoint, origin.url)
  const [a, b, c] = fleet as [RunningSidecar, RunningSidecar, RunningSidecar]
  const client = new Agent({ connections: 8 })
  t.after(() => client.close())
  for (const sidecar of fleet) t.assert.strictEqual(await get(`${sidecar.url}/vendor/warm`, client), 200)
  t.assert.strictEqual(tokenEndpoint.requests.length, 1)

  // The vendor revokes the token; replica a is the first to find out.
  revoked = 'Bearer rotating-token-1'
  t.assert.strictEqual(await get(`${a.url}/vendor/x`, client), 200, 'a: 401, new token, retried')
  t.assert.strictEqual(tokenEndpoint.requests.length, 2)
  const credentialsOf = (sidecar: RunningSidecar) => sidecar.sidecar.upstreams[0]?.credentials
  await waitFor('b and c to drop the revoked token', () => [b, c].every((s) => credentialsOf(s)?.status().state !== 'valid'), 2000)

  t.assert.strictEqual(await get(`${b.url}/vendor/y`, client), 200)
  t.assert.strictEqual(await get(`${c.url}/vendor/z`, client), 200)
  t.assert.strictEqual(tokenEndpoint.requests.length, 2, 'b and c read the new token; nobody fetched another')
  t.assert.deepStrictEqual(answers.filter((answer) => answer.status === 401).length, 1, 'only a ever sent the revoked token')
  t.assert.deepStrictEqual(answers.slice(-3).map((answer) => answer.authorization), Array(3).fill('Bearer rotating-token-2'))
  assertNoSecretsLogged(t, fleet, ['rotating-token-1', 'rotating-token-2'])
})

test('a failing token endpoint is asked once for all replicas, not once per replica', async (t: TestContext) => {
  const redis = await startRedis(t)
  if (redis === undefined) return
  const tokenEndpoint = await startTokenEndpoint(t, async () => {
    await new Promise((resolve) => setTimeout(resolve, 100))
    return { status: 503, body: { error: 'temporarily_unavailable' } }
  })
  const origin = await startOrigin(t)
  const fleet = await sidecars(t, 3, redis, tokenEndpoint, origin.url)
  const client = new Agent({ connections: 32 })
  t.after(() => client.close())

  const answers = await Promise.all(Array.from({ length: 15 }, async (_, i) => {
    const res = await fetch(`${fleet[i % 3]?.url}/vendor/p/${i}`, { dispatcher: client } as RequestInit)
    return { status: res.status, body: await res.json() as { code: string, detail: string } }
  }))
  t.assert.deepStrictEqual(new Set(answers.map((a) => a.status)), new Set([502]))
  t.assert.deepStrictEqual(new Set(answers.map((a) => a.body.code)), new Set(['TG_TOKEN_FETCH_FAILED']))
  t.assert.ok(answers.every((a) => a.body.detail.includes('HTTP 503 temporarily_unavailable')), 'every replica reports the same reason')
  t.assert.strictEqual(tokenEndpoint.requests.length, 1)
  t.assert.strictEqual(origin.requests.length, 0)
})

test('deployments with different key prefixes on one Redis do not share tokens', async (t: TestContext) => {
  const redis = await startRedis(t)
  if (redis === undefined) return
  let issued = 0
  const tokenEndpoint = await startTokenEndpoint(t, () => tokenReply(`prefix-token-${++issued}`, 3600))
  const origin = await startOrigin(t)
  const [blue] = await sidecars(t, 1, redis, tokenEndpoint, origin.url, { keyPrefix: 'blue:' })
  const [green] = await sidecars(t, 1, redis, tokenEndpoint, origin.url, { keyPrefix: 'green:' })
  const client = new Agent({ connections: 4 })
  t.after(() => client.close())
  t.assert.strictEqual(await get(`${blue?.url}/vendor/a`, client), 200)
  t.assert.strictEqual(await get(`${green?.url}/vendor/b`, client), 200)
  t.assert.strictEqual(tokenEndpoint.requests.length, 2)
  t.assert.strictEqual((await redis.client.keys('blue:token:*')).length, 1)
  t.assert.strictEqual((await redis.client.keys('green:token:*')).length, 1)
})

test('refresh ahead across replicas: one token request per refresh, and no request carries an expired token', async (t: TestContext) => {
  const redis = await startRedis(t)
  if (redis === undefined) return
  const lifetimeMs = 3000
  const issuedAt = new Map<string, number>()
  const tokenEndpoint = await startTokenEndpoint(t, () => {
    const token = `refresh-token-${issuedAt.size + 1}`
    issuedAt.set(`Bearer ${token}`, Date.now())
    return tokenReply(token, lifetimeMs / 1000)
  })
  let expiredUses = 0
  const origin = await startOrigin(t, (req, res) => {
    req.resume()
    const issued = issuedAt.get(req.headers.authorization ?? '')
    const valid = issued !== undefined && Date.now() < issued + lifetimeMs
    if (!valid) expiredUses++
    res.writeHead(valid ? 200 : 401).end()
  })
  const fleet = await Promise.all([0, 1, 2].map(() => startSidecar(t, {
    store: { type: 'redis', url: redis.url, keyPrefix: 'refresh-test:' },
    upstreams: {
      vendor: {
        target: origin.url,
        auth: { type: 'oauth2_client_credentials', tokenUrl: tokenEndpoint.url, clientId: 'refresh-client', clientSecret: SECRET, refreshBefore: '1s' }
      }
    }
  })))
  const client = new Agent({ connections: 8 })
  t.after(() => client.close())

  // Steady traffic on every replica for one and a half lifetimes: refreshes at about 2 s and 4 s.
  const statuses: number[] = []
  const until = Date.now() + 4500
  while (Date.now() < until) {
    statuses.push(...await Promise.all(fleet.map((sidecar, i) => get(`${sidecar.url}/vendor/tick/${i}`, client))))
    await new Promise((resolve) => setTimeout(resolve, 50))
  }

  t.assert.deepStrictEqual(new Set(statuses), new Set([200]))
  t.assert.strictEqual(expiredUses, 0, 'a request carried an expired token')
  // The cold start and a refresh about every 2 s, each made once for all replicas: never two close together.
  const fetchedAt = tokenEndpoint.requests.map((r) => r.at)
  t.assert.ok(fetchedAt.length >= 3, `${fetchedAt.length} token requests in 4.5 s`)
  for (let i = 1; i < fetchedAt.length; i++) {
    const gap = (fetchedAt[i] as number) - (fetchedAt[i - 1] as number)
    t.assert.ok(gap >= lifetimeMs - 1000 - 200, `token requests ${i - 1} and ${i} only ${gap} ms apart`)
  }
  t.assert.ok(new Set(origin.requests.map((r) => r.headers.authorization)).size >= 3, 'the replicas moved on to the refreshed tokens')
})

test('the hot path: a request that finds a valid token makes no Redis call (MONITOR)', async (t: TestContext) => {
  const redis = await startRedis(t)
  if (redis === undefined) return
  const tokenEndpoint = await startTokenEndpoint(t, () => tokenReply('hot-path-token', 3600))
  const origin = await startOrigin(t)
  const [sidecar] = await sidecars(t, 1, redis, tokenEndpoint, origin.url)
  const client = new Agent({ connections: 4 })
  t.after(() => client.close())
  t.assert.strictEqual(await get(`${sidecar?.url}/vendor/warm`, client), 200)
  // Every command Redis runs, as it runs it; the replica heartbeat (once a second, on `<prefix>replicas`) is not the request path.
  const monitor = await redis.client.monitor()
  t.after(() => monitor.disconnect())
  const seen: string[][] = []
  monitor.on('monitor', (_time: string, args: string[]) => { seen.push(args) })
  for (let i = 0; i < 50; i++) t.assert.strictEqual(await get(`${sidecar?.url}/vendor/p/${i}`, client), 200)
  await redis.client.ping()
  // The heartbeat's script and what it runs (MONITOR shows a script's commands too); any window or token command would name its own keys.
  const calls = seen.filter((args) => !args.some((arg) => arg.endsWith(':replicas')) && !/^(ping|time)$/i.test(args[0] ?? ''))
  t.assert.deepStrictEqual(calls, [], 'Redis commands during 50 requests with a valid token')
  t.assert.strictEqual(tokenEndpoint.requests.length, 1)
})

test('a secret rotated on one of two replicas: each keeps its own token, and neither overwrites the other\'s', async (t: TestContext) => {
  const redis = await startRedis(t)
  if (redis === undefined) return
  const tokenEndpoint = await startTokenEndpoint(t, (request, index) => {
    const secret = new URLSearchParams(request.body).get('client_secret') ?? ''
    return tokenReply(`${secret}-token-${index}`, 3600)
  })
  const seen: string[] = []
  const origin = await startOrigin(t, (req, res) => {
    req.resume()
    seen.push(req.headers.authorization ?? '')
    res.end('ok')
  })
  const replica = async (clientSecret: string): Promise<RunningSidecar> => await startSidecar(t, {
    store: { type: 'redis', url: redis.url, keyPrefix: 'rotation-test:' },
    upstreams: { vendor: { target: origin.url, auth: { type: 'oauth2_client_credentials', tokenUrl: tokenEndpoint.url, clientId: 'rotating', clientSecret } } }
  })
  const old = await replica('old-secret')
  const rotated = await replica('new-secret')
  const client = new Agent({ connections: 4 })
  t.after(() => client.close())
  for (let round = 0; round < 5; round++) {
    t.assert.strictEqual(await get(`${old.url}/vendor/a`, client), 200)
    t.assert.strictEqual(await get(`${rotated.url}/vendor/b`, client), 200)
  }
  t.assert.strictEqual(tokenEndpoint.requests.length, 2, 'one token per set of credentials, no overwrite loop')
  t.assert.deepStrictEqual(new Set(seen), new Set(['Bearer old-secret-token-0', 'Bearer new-secret-token-1']))
  t.assert.strictEqual((await redis.client.keys('rotation-test:token:{vendor}:*')).filter((key) => !key.includes(':lock') && !key.includes(':failure') && !key.includes(':streak')).length, 2)
})
