/**
 * A 401 drops the token it was for, and only that one; the cache key
 * follows the credentials, so rotated secrets never reuse a token.
 */
import { test, type TestContext } from 'node:test'
import { createCredentialSource } from '../../src/auth/index.js'
import { oauthConfig, startTokenEndpoint, tokenReply } from '../helpers/token-endpoint.js'

test('invalidate(current) makes the next caller fetch; a late 401 for the old token does not evict the new one', async (t: TestContext) => {
  t.plan(5)
  const endpoint = await startTokenEndpoint(t, (_request, index) => tokenReply(`token-${index}`, 3600))
  const source = createCredentialSource('invalidate', oauthConfig(endpoint.url))
  t.after(() => source.close())
  const old = await source.authorization() as string
  // It worked once (an answer other than 401), then the vendor revoked it.
  source.confirmed?.(old)
  source.invalidate(old)
  const next = source.authorization()
  t.assert.ok(next instanceof Promise, 'the dropped token is not served')
  t.assert.strictEqual(await next, 'Bearer token-1')

  // Another request that carried the old token comes back with a 401 now.
  source.invalidate(old)
  source.invalidate('Bearer something-else')
  t.assert.strictEqual(source.authorization(), 'Bearer token-1')
  t.assert.strictEqual(endpoint.requests.length, 2)
  t.assert.strictEqual(source.status().state, 'valid')
})

test('a rotated secret misses the cache; the same credentials in a rebuilt source reuse the live token', async (t: TestContext) => {
  t.plan(6)
  const endpoint = await startTokenEndpoint(t, (request, index) => tokenReply(`token-${index}-${new URLSearchParams(request.body).get('client_secret') ?? ''}`, 3600))
  const before = oauthConfig(endpoint.url, { clientSecret: 'old-secret' })
  const after = oauthConfig(endpoint.url, { clientSecret: 'new-secret' })

  const a = createCredentialSource('rotate', before)
  t.assert.strictEqual(await a.authorization(), 'Bearer token-0-old-secret')
  a.close()

  const b = createCredentialSource('rotate', after)
  t.after(() => b.close())
  t.assert.strictEqual(await b.authorization(), 'Bearer token-1-new-secret')

  const c = createCredentialSource('rotate', before)
  t.after(() => c.close())
  t.assert.strictEqual(c.authorization(), 'Bearer token-0-old-secret', 'same credentials: served at once, no fetch')
  t.assert.strictEqual(endpoint.requests.length, 2)

  const other = createCredentialSource('rotate-elsewhere', before)
  t.after(() => other.close())
  const fetched = other.authorization()
  t.assert.ok(fetched instanceof Promise, 'another upstream does not share the token')
  t.assert.strictEqual(await fetched, 'Bearer token-2-old-secret')
})

test('two sources with the same credentials make one fetch between them, and both serve its token', async (t: TestContext) => {
  t.plan(5)
  let releaseFirst = (): void => {}
  const firstHeld = new Promise<void>((resolve) => { releaseFirst = resolve })
  const endpoint = await startTokenEndpoint(t, async (_request, index) => {
    if (index === 0) await firstHeld
    return tokenReply(`token-${index}`, 3600)
  })
  // A rebuilt source while the old one is still fetching: they meet in the process's token store.
  const auth = oauthConfig(endpoint.url)
  const older = createCredentialSource('sequence', auth)
  const newer = createCredentialSource('sequence', auth)
  t.after(() => { older.close(); newer.close() })

  const slow = older.authorization()
  await endpoint.waitForRequests(1)
  const waiting = newer.authorization()
  t.assert.ok(waiting instanceof Promise, 'the second source waits for the first one\'s fetch')
  releaseFirst()
  t.assert.strictEqual(await slow, 'Bearer token-0')
  t.assert.strictEqual(await waiting, 'Bearer token-0')
  t.assert.strictEqual(newer.authorization(), 'Bearer token-0')
  t.assert.strictEqual(endpoint.requests.length, 1)
})
