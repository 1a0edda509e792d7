/**
 * Refresh ahead of expiry, in the background, while the old token serves.
 * These need real timers, so lifetimes are short (maxTokenTtl) and real.
 */
import { test, type TestContext } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { createCredentialSource } from '../../src/auth/index.js'
import type { TokenFetchError } from '../../src/auth/token-request.js'
import { errorReply, oauthConfig, startTokenEndpoint, tokenReply } from '../helpers/token-endpoint.js'

test('refreshes half-way through a short lifetime; callers keep the old token meanwhile and never wait', async (t: TestContext) => {
  t.plan(5)
  const endpoint = await startTokenEndpoint(t, async (_request, index) => {
    if (index === 1) await sleep(150)
    return tokenReply(`token-${index}`, 3600)
  })
  // 1.2 s to live; refreshBefore (60 s) is capped at half of that.
  const source = createCredentialSource('refresh', oauthConfig(endpoint.url, { maxTokenTtlMs: 1200 }))
  t.after(() => source.close())
  // Lifetimes count from when the request was sent, so measure from just before.
  const started = Date.now()
  t.assert.strictEqual(await source.authorization(), 'Bearer token-0')

  await endpoint.waitForRequests(2)
  const startedAfter = (endpoint.requests[1]?.at ?? 0) - started
  t.assert.ok(startedAfter >= 600 && startedAfter < 1200, `refresh started ${startedAfter} ms after the first fetch`)

  let sawOld = 0
  let value = source.authorization()
  // Until the refresh lands, every call is answered at once, with the old token.
  while (value === 'Bearer token-0') {
    sawOld++
    await sleep(10)
    value = source.authorization()
  }
  t.assert.ok(sawOld > 0, `the old token served during the refresh (${sawOld} calls)`)
  t.assert.strictEqual(value, 'Bearer token-1', 'a plain string: nobody waited')
  t.assert.strictEqual(endpoint.requests.length, 2)
})

test('refreshBefore decides when it is shorter than half the lifetime', async (t: TestContext) => {
  t.plan(2)
  const endpoint = await startTokenEndpoint(t, (_request, index) => tokenReply(`token-${index}`, 3600))
  const source = createCredentialSource('refresh-before', oauthConfig(endpoint.url, { maxTokenTtlMs: 1600, refreshBeforeMs: 300 }))
  t.after(() => source.close())
  const started = Date.now()
  await source.authorization()
  await endpoint.waitForRequests(2)
  const startedAfter = (endpoint.requests[1]?.at ?? 0) - started
  t.assert.ok(startedAfter >= 1300 && startedAfter < 1600, `refresh started ${startedAfter} ms after the first fetch`)
  await sleep(50)
  t.assert.strictEqual(source.authorization(), 'Bearer token-1')
})

test('a failed background refresh keeps the valid token and is retried after a backoff', async (t: TestContext) => {
  t.plan(7)
  const endpoint = await startTokenEndpoint(t, (_request, index) => index === 1 ? errorReply(503, 'temporarily_unavailable') : tokenReply(`token-${index}`, 3600))
  // 2.4 s to live: refresh at 1.2 s fails, the retry 1 s later still comes before expiry.
  const source = createCredentialSource('refresh-retry', oauthConfig(endpoint.url, { maxTokenTtlMs: 2400 }))
  t.after(() => source.close())
  t.assert.strictEqual(await source.authorization(), 'Bearer token-0')

  await endpoint.waitForRequests(2)
  await sleep(50)
  t.assert.strictEqual(source.authorization(), 'Bearer token-0', 'the valid token serves on')
  const failing = source.status()
  t.assert.strictEqual(failing.state, 'valid')
  t.assert.strictEqual(failing.lastError, 'HTTP 503 temporarily_unavailable')

  await endpoint.waitForRequests(3)
  const retryAfter = (endpoint.requests[2]?.at ?? 0) - (endpoint.requests[1]?.at ?? 0)
  t.assert.ok(retryAfter >= 950 && retryAfter < 1400, `retried ${retryAfter} ms after the failure`)
  await sleep(50)
  t.assert.strictEqual(source.authorization(), 'Bearer token-2')
  t.assert.deepStrictEqual(source.status().fetches, { ok: 2, failed: 1 })
})

test('never an expired token: past expiry with the endpoint down, callers get the 502', async (t: TestContext) => {
  t.plan(6)
  let at = Date.now()
  const endpoint = await startTokenEndpoint(t, () => tokenReply('old-token', 60))
  const source = createCredentialSource('expired', oauthConfig(endpoint.url), { now: () => at })
  t.after(() => source.close())
  t.assert.strictEqual(await source.authorization(), 'Bearer old-token')
  await endpoint.close()

  at += 60_000
  const value = source.authorization()
  t.assert.ok(value instanceof Promise, 'an expired token is not handed out')
  await t.assert.rejects(value as Promise<unknown>, (err: TokenFetchError) => {
    t.assert.strictEqual(err.statusCode, 502)
    t.assert.strictEqual(err.detail, 'connection refused (ECONNREFUSED)')
    return true
  })
  const status = source.status()
  t.assert.deepStrictEqual([status.state, status.expiresAt], ['failing', undefined])
})
