/**
 * A token the upstream answers 401 on its very first use was never good (a
 * wrong scope, an app not yet enabled at the vendor): that counts as a failed
 * fetch. Backoff 1 s doubling to 30 s, shared by every replica on one Redis;
 * meanwhile requests that need it get 502 TG_TOKEN_REJECTED with the backoff
 * left as Retry-After, and nothing is sent upstream.
 */
import { test, type TestContext } from 'node:test'
import { createCredentialSource } from '../../src/auth/index.js'
import { startOrigin } from '../helpers/origin.js'
import { startRedis } from '../helpers/redis-server.js'
import { startSidecar } from '../helpers/sidecar.js'
import { oauthConfig, startTokenEndpoint, tokenReply } from '../helpers/token-endpoint.js'

function fakeClock (): { now: () => number, advance: (ms: number) => void } {
  let at = 1_000_000
  return { now: () => at, advance: (ms) => { at += ms } }
}

async function rejected (value: unknown): Promise<{ code?: string, retryAfterMs?: number }> {
  try {
    await value
  } catch (err) {
    return err as { code?: string, retryAfterMs?: number }
  }
  throw new Error('expected a rejection')
}

test('a token refused on its first use backs off 1 s, then 2 s; one that worked ends the row', async (t: TestContext) => {
  const clock = fakeClock()
  const endpoint = await startTokenEndpoint(t, (_request, index) => tokenReply(`token-${index}`, 3600))
  const source = createCredentialSource('rejected', oauthConfig(endpoint.url), { now: clock.now, wallNow: () => 1_800_000_000_000 })
  t.after(() => source.close())

  const first = await source.authorization() as string
  source.invalidate(first)
  let error = await rejected(source.authorization())
  t.assert.strictEqual(error.code, 'TG_TOKEN_REJECTED')
  t.assert.strictEqual(error.retryAfterMs, 1000)
  t.assert.strictEqual(source.status().state, 'rejected')
  t.assert.strictEqual(endpoint.requests.length, 1, 'the endpoint is not asked during the backoff')

  clock.advance(999)
  t.assert.strictEqual((await rejected(source.authorization())).retryAfterMs, 1)
  clock.advance(1)
  const second = await source.authorization() as string
  t.assert.strictEqual(second, 'Bearer token-1')
  source.invalidate(second)
  error = await rejected(source.authorization())
  t.assert.strictEqual(error.retryAfterMs, 2000, 'the second in a row doubles')

  clock.advance(2000)
  const third = await source.authorization() as string
  source.confirmed?.(third)
  t.assert.strictEqual(source.status().state, 'valid')
  // It worked: a later 401 is an ordinary revocation, repaired at once.
  source.invalidate(third)
  t.assert.strictEqual(await source.authorization(), 'Bearer token-3')
  t.assert.strictEqual(endpoint.requests.length, 4)
})

async function rejectingVendor (t: TestContext) {
  const tokenEndpoint = await startTokenEndpoint(t, (_request, index) => tokenReply(`never-good-${index}`, 3600))
  const seen: string[] = []
  const origin = await startOrigin(t, (req, res) => {
    req.resume()
    seen.push(req.headers.authorization ?? '')
    res.writeHead(401, { 'www-authenticate': 'Bearer error="insufficient_scope"' })
    res.end()
  })
  const upstream = {
    target: origin.url,
    auth: { type: 'oauth2_client_credentials', tokenUrl: tokenEndpoint.url, clientId: 'id', clientSecret: 'rejected-secret' }
  }
  return { tokenEndpoint, seen, upstream }
}

test('through the sidecar: the 401 retry finds the backoff and answers 502 TG_TOKEN_REJECTED at once; /status says why', async (t: TestContext) => {
  const { tokenEndpoint, seen, upstream } = await rejectingVendor(t)
  const sidecar = await startSidecar(t, { upstreams: { vendor: upstream } })

  const res = await fetch(`${sidecar.url}/vendor/Patient`)
  t.assert.strictEqual(res.status, 502)
  t.assert.match(res.headers.get('content-type') ?? '', /^application\/problem\+json/)
  t.assert.strictEqual(res.headers.get('retry-after'), '1')
  const problem = await res.json() as { code: string, upstream: string }
  t.assert.strictEqual(problem.code, 'TG_TOKEN_REJECTED')
  t.assert.strictEqual(problem.upstream, 'vendor')

  const again = await fetch(`${sidecar.url}/vendor/Patient`)
  t.assert.strictEqual(again.status, 502)
  await again.arrayBuffer()
  t.assert.deepStrictEqual(seen, ['Bearer never-good-0'], 'nothing more is sent upstream during the backoff')
  t.assert.strictEqual(tokenEndpoint.requests.length, 1)

  const status = await (await fetch(`${sidecar.url}/status`)).json() as { upstreams: Record<string, { auth: { state: string, lastError?: string } }> }
  t.assert.strictEqual(status.upstreams.vendor?.auth.state, 'rejected')
  t.assert.match(status.upstreams.vendor?.auth.lastError ?? '', /401 to its first use/)
  t.assert.ok(!sidecar.logs.text().includes('never-good-0'), 'the token reached the log')
})

test('over Redis the backoff is shared: another replica refuses at once, with no token request and nothing sent', async (t: TestContext) => {
  const redis = await startRedis(t)
  if (redis === undefined) return
  const { tokenEndpoint, seen, upstream } = await rejectingVendor(t)
  const store = { type: 'redis', url: redis.url, keyPrefix: 'rejected-test:' }
  const [a, b] = await Promise.all([0, 1].map(async () => await startSidecar(t, { store, upstreams: { vendor: upstream } })))
  if (a === undefined || b === undefined) throw new Error('two sidecars')

  const first = await fetch(`${a.url}/vendor/x`)
  t.assert.strictEqual(first.status, 502)
  await first.arrayBuffer()
  const other = await fetch(`${b.url}/vendor/x`)
  t.assert.strictEqual(other.status, 502)
  t.assert.strictEqual((await other.json() as { code: string }).code, 'TG_TOKEN_REJECTED')
  t.assert.ok(Number(other.headers.get('retry-after')) >= 1)
  t.assert.strictEqual(tokenEndpoint.requests.length, 1)
  t.assert.strictEqual(seen.length, 1)
})
