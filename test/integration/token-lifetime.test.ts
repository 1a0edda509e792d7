/**
 * How long a token is used: expires_in, else the access token's JWT `exp`,
 * else 5 minutes; clamped by maxTokenTtl. A fake clock does the waiting.
 */
import { test, type TestContext } from 'node:test'
import { createCredentialSource } from '../../src/auth/index.js'
import type { OAuth2ClientCredentialsAuth } from '../../src/config/types.js'
import { oauthConfig, startTokenEndpoint, tokenReply, type Reply, type TokenEndpoint } from '../helpers/token-endpoint.js'

function fakeClock (): { now: () => number, advance: (ms: number) => void } {
  let at = Date.now()
  return { now: () => at, advance: (ms) => { at += ms } }
}

/** A JWS-shaped access token (unsigned: the client only reads it). */
function jwt (claims: object): string {
  const part = (value: object): string => Buffer.from(JSON.stringify(value)).toString('base64url')
  return `${part({ alg: 'RS256', typ: 'at+jwt' })}.${part(claims)}.c2lnbmF0dXJl`
}

async function setup (t: TestContext, reply: (index: number) => Reply, overrides: Partial<OAuth2ClientCredentialsAuth> = {}) {
  const clock = fakeClock()
  const endpoint: TokenEndpoint = await startTokenEndpoint(t, (_request, index) => reply(index))
  const source = createCredentialSource('lifetime', oauthConfig(endpoint.url, overrides), { now: clock.now, wallNow: clock.now })
  t.after(() => source.close())
  return { clock, endpoint, source, start: clock.now() }
}

test('expires_in is honoured: the token serves until then, not a millisecond longer', async (t: TestContext) => {
  t.plan(6)
  const { clock, endpoint, source, start } = await setup(t, (i) => tokenReply(`token-${i}`, 1200))
  t.assert.strictEqual(await source.authorization(), 'Bearer token-0')
  t.assert.strictEqual(source.status().expiresAt, start + 1_200_000)
  clock.advance(1_200_000 - 1)
  t.assert.strictEqual(source.authorization(), 'Bearer token-0', 'a plain string: no fetch, no promise')
  clock.advance(1)
  const next = source.authorization()
  t.assert.ok(next instanceof Promise, 'expired: the caller waits on a fetch')
  t.assert.strictEqual(await next, 'Bearer token-1')
  t.assert.strictEqual(endpoint.requests.length, 2)
})

test('expires_in sent as a string of digits is read too', async (t: TestContext) => {
  t.plan(1)
  const { source, start } = await setup(t, () => ({ body: { access_token: 'x', token_type: 'bearer', expires_in: '90' } }))
  await source.authorization()
  t.assert.strictEqual(source.status().expiresAt, start + 90_000)
})

test('without expires_in the JWT exp of the access token decides', async (t: TestContext) => {
  t.plan(2)
  const clock = fakeClock()
  const token = jwt({ sub: 'client', exp: Math.floor(clock.now() / 1000) + 120 })
  const endpoint = await startTokenEndpoint(t, () => tokenReply(token))
  const source = createCredentialSource('lifetime', oauthConfig(endpoint.url), { now: clock.now, wallNow: clock.now })
  t.after(() => source.close())
  t.assert.strictEqual(await source.authorization(), `Bearer ${token}`)
  const expected = Math.floor(clock.now() / 1000) * 1000 + 120_000
  t.assert.strictEqual(source.status().expiresAt, expected)
})

test('neither expires_in nor a JWT exp: 5 minutes', async (t: TestContext) => {
  t.plan(2)
  const { source, start } = await setup(t, () => tokenReply('opaque'))
  await source.authorization()
  t.assert.strictEqual(source.status().expiresAt, start + 5 * 60_000)
  const past = await setup(t, () => tokenReply(jwt({ exp: 1 })))
  await past.source.authorization()
  t.assert.strictEqual(past.source.status().expiresAt, past.start + 5 * 60_000, 'an exp in the past is not a lifetime')
})

test('maxTokenTtl clamps what the server claims (Halaxy: 3600 s claimed, 15 min real)', async (t: TestContext) => {
  t.plan(3)
  const { clock, endpoint, source, start } = await setup(t, (i) => tokenReply(`token-${i}`, 3600), { maxTokenTtlMs: 15 * 60_000 })
  await source.authorization()
  t.assert.strictEqual(source.status().expiresAt, start + 15 * 60_000)
  clock.advance(15 * 60_000)
  t.assert.strictEqual(await source.authorization(), 'Bearer token-1')
  t.assert.strictEqual(endpoint.requests.length, 2)
})

test('status: none, then valid with expiry and refresh time, never the token', async (t: TestContext) => {
  t.plan(3)
  const { source, start } = await setup(t, () => tokenReply('very-secret-token', 600))
  t.assert.deepStrictEqual(source.status(), { type: 'oauth2_client_credentials', state: 'none', fetches: { ok: 0, failed: 0 } })
  await source.authorization()
  t.assert.deepStrictEqual(source.status(), {
    type: 'oauth2_client_credentials', state: 'valid', expiresAt: start + 600_000, lastRefreshAt: start, fetches: { ok: 1, failed: 0 }
  })
  t.assert.ok(!JSON.stringify(source.status()).includes('very-secret-token'))
})

test('one clock: a wall-clock step of ±1 h neither ends nor stretches a 60 s token lifetime', async (t: TestContext) => {
  let mono = 5_000
  let wall = Date.UTC(2026, 11, 3, 12)
  const endpoint = await startTokenEndpoint(t, (_request, index) => tokenReply(`token-${index}`, 60))
  const source = createCredentialSource('wall-step', oauthConfig(endpoint.url, { refreshBeforeMs: 0 }), { now: () => mono, wallNow: () => wall })
  t.after(() => source.close())
  t.assert.strictEqual(await source.authorization(), 'Bearer token-0')
  wall += 3_600_000
  mono += 30_000
  t.assert.strictEqual(source.authorization(), 'Bearer token-0', 'an hour forward on the wall does not end it')
  t.assert.strictEqual(source.status().expiresAt, wall + 30_000, 'status reports its end by the wall clock as it reads now')
  wall -= 2 * 3_600_000
  mono += 29_999
  t.assert.strictEqual(source.authorization(), 'Bearer token-0', 'an hour back does not stretch it either')
  mono += 1
  t.assert.strictEqual(await source.authorization(), 'Bearer token-1', 'it ends at 60 s on the monotonic clock')
  t.assert.strictEqual(endpoint.requests.length, 2)
})
