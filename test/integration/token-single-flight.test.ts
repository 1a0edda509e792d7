/**
 * One token request per credential at a time; all callers share its
 * outcome, failure included, and a failure is remembered for a backoff.
 */
import { test, type TestContext } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { createCredentialSource } from '../../src/auth/index.js'
import type { TokenFetchError } from '../../src/auth/token-request.js'
import { errorReply, oauthConfig, startTokenEndpoint, tokenReply } from '../helpers/token-endpoint.js'

const BURST = 500

test('500 concurrent callers on a cold cache cause exactly one token request', async (t: TestContext) => {
  t.plan(4)
  const endpoint = await startTokenEndpoint(t, async () => {
    await sleep(50)
    return tokenReply('shared-token', 3600)
  })
  const source = createCredentialSource('single-flight', oauthConfig(endpoint.url))
  t.after(() => source.close())
  const calls = Array.from({ length: BURST }, () => source.authorization())
  t.assert.strictEqual(source.status().state, 'fetching')
  const values = await Promise.all(calls)
  t.assert.strictEqual(endpoint.requests.length, 1)
  t.assert.deepStrictEqual(new Set(values), new Set(['Bearer shared-token']))
  t.assert.strictEqual(source.authorization(), 'Bearer shared-token')
})

test('a failure is shared by every waiter and remembered: a burst within the backoff does not reach the endpoint', async (t: TestContext) => {
  t.plan(10)
  let at = Date.now()
  const endpoint = await startTokenEndpoint(t, async () => {
    await sleep(20)
    return errorReply(500, 'server_error')
  })
  const source = createCredentialSource('single-flight-failure', oauthConfig(endpoint.url), { now: () => at })
  t.after(() => source.close())

  const first = await Promise.allSettled(Array.from({ length: BURST }, () => source.authorization()))
  const errors = new Set(first.map((r) => r.status === 'rejected' ? r.reason as TokenFetchError : undefined))
  t.assert.strictEqual(errors.size, 1, 'all waiters got the one error')
  const [error] = errors
  t.assert.strictEqual(error?.message, 'the token endpoint failed: HTTP 500 server_error')
  t.assert.strictEqual(endpoint.requests.length, 1)

  // 1 s backoff after the first failure.
  at += 999
  const second = await Promise.allSettled(Array.from({ length: BURST }, () => source.authorization()))
  t.assert.ok(second.every((r) => r.status === 'rejected' && r.reason === error), 'the remembered error, at once')
  t.assert.strictEqual(endpoint.requests.length, 1)
  t.assert.strictEqual(source.status().state, 'failing')

  at += 1
  await t.assert.rejects(Promise.resolve(source.authorization()))
  t.assert.strictEqual(endpoint.requests.length, 2)

  // The second failure in a row doubles the backoff; then the endpoint recovers.
  endpoint.handler = () => tokenReply('recovered', 3600)
  at += 1999
  await Promise.allSettled([source.authorization()])
  t.assert.strictEqual(endpoint.requests.length, 2, 'the 2 s backoff holds')
  at += 1
  t.assert.strictEqual(await source.authorization(), 'Bearer recovered')
})
