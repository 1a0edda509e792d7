/**
 * Every way a token endpoint can fail becomes TG_TOKEN_FETCH_FAILED (502)
 * with a detail that says which, and nothing the endpoint or we hold secret:
 * not the client secret, not the assertion, not a token.
 */
import { test, type TestContext } from 'node:test'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createCredentialSource } from '../../src/auth/index.js'
import { generateKeyMaterial } from '../../src/auth/keygen.js'
import type { TokenFetchError } from '../../src/auth/token-request.js'
import type { OAuth2ClientCredentialsAuth } from '../../src/config/types.js'
import { HANG, errorReply, oauthConfig, startTokenEndpoint, tokenReply, type Reply, type TokenHandler } from '../helpers/token-endpoint.js'

const SECRET = 'top-secret-value'
/** What a hostile or careless endpoint might echo back. */
const LEAKED_TOKEN = 'leaked-token-value'

async function failureOf (value: unknown): Promise<TokenFetchError> {
  try {
    await value
  } catch (err) {
    return err as TokenFetchError
  }
  throw new Error('expected the token fetch to fail')
}

/** Four assertions: status, code, the exact detail, and no secret anywhere in the error. */
function assertSanitised (t: TestContext, err: TokenFetchError, detail: string, secrets: readonly string[] = [SECRET, LEAKED_TOKEN]): void {
  t.assert.strictEqual(err.statusCode, 502)
  t.assert.strictEqual(err.code, 'TG_TOKEN_FETCH_FAILED')
  t.assert.strictEqual(err.message, `the token endpoint failed: ${detail}`)
  const everything = JSON.stringify({ ...err, message: err.message, stack: err.stack, cause: String(err.cause) })
  t.assert.ok(secrets.every((s) => !everything.includes(s)), 'no secret in the error')
}

async function fetchFrom (t: TestContext, handler: TokenHandler, overrides: Partial<OAuth2ClientCredentialsAuth> = {}) {
  const endpoint = await startTokenEndpoint(t, handler)
  const source = createCredentialSource('faults', oauthConfig(endpoint.url, { clientSecret: SECRET, ...overrides }))
  t.after(() => source.close())
  return { endpoint, source, error: await failureOf(source.authorization()) }
}

const answers: Array<[string, Reply, string]> = [
  ['an RFC 6749 error answer gives its error code and its description, the secret in it redacted',
    errorReply(400, 'invalid_client', `client secret ${SECRET} is wrong`), 'HTTP 400 invalid_client: client secret <redacted> is wrong'],
  ['a token echoed in the description is redacted', errorReply(400, 'invalid_grant', `"access_token": "${LEAKED_TOKEN}"`), 'HTTP 400 invalid_grant: "access_token": <redacted>'],
  ['an error code that is the secret itself is redacted', { status: 400, body: { error: SECRET } }, 'HTTP 400 <redacted>'],
  ['an error answer that is not JSON gives the status alone', { status: 401, body: `<html>${SECRET}</html>` }, 'HTTP 401'],
  ['an error code that is not a short word is left out', { status: 400, body: { error: `bad ${SECRET}` } }, 'HTTP 400'],
  ['a 200 that is not JSON', { body: `access_token=${LEAKED_TOKEN}` }, 'answer is not JSON'],
  ['a 200 without access_token', { body: { token_type: 'Bearer', expires_in: 3600 } }, 'answer has no access_token'],
  ['a 200 that is JSON null', { body: 'null' }, 'answer has no access_token'],
  ['token_type mac', tokenReply(LEAKED_TOKEN, 3600, { token_type: 'mac' }), 'token_type "mac" is not bearer'],
  ['a token_type that is not a short word is not quoted', tokenReply(LEAKED_TOKEN, 3600, { token_type: `x ${SECRET}` }), 'token_type is not bearer'],
  ['an access_token a header cannot carry', tokenReply(`${LEAKED_TOKEN}\r\nx-injected: 1`, 3600), 'access_token has characters a header cannot carry'],
  ['an answer larger than 64 KiB', tokenReply(`${LEAKED_TOKEN}${'x'.repeat(70_000)}`, 3600), 'answer is larger than 65536 bytes'],
  ['an oversized error page still gives its status', { status: 500, body: `${'x'.repeat(70_000)}${SECRET}` }, 'HTTP 500']
]

for (const [name, reply, detail] of answers) {
  test(name, async (t: TestContext) => {
    t.plan(5)
    const { error, source } = await fetchFrom(t, () => reply)
    assertSanitised(t, error, detail)
    t.assert.strictEqual(source.status().lastError, detail)
  })
}

test('a token endpoint that never answers: timed out after timeoutMs', async (t: TestContext) => {
  t.plan(5)
  const started = Date.now()
  const { error } = await fetchFrom(t, () => HANG, { timeoutMs: 200 })
  assertSanitised(t, error, 'timed out after 200 ms')
  t.assert.ok(Date.now() - started < 1000)
})

test('a body that stalls after the headers: the same deadline holds', async (t: TestContext) => {
  t.plan(4)
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' })
    res.write(`{"access_token":"${LEAKED_TOKEN}`)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.after(() => new Promise<void>((resolve) => { server.close(() => resolve()); server.closeAllConnections() }))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/token`
  const source = createCredentialSource('stall', oauthConfig(url, { clientSecret: SECRET, timeoutMs: 200 }))
  t.after(() => source.close())
  assertSanitised(t, await failureOf(source.authorization()), 'timed out after 200 ms')
})

test('connection refused', async (t: TestContext) => {
  t.plan(4)
  const endpoint = await startTokenEndpoint(t, () => tokenReply('never', 3600))
  await endpoint.close()
  const source = createCredentialSource('refused', oauthConfig(endpoint.url, { clientSecret: SECRET }))
  t.after(() => source.close())
  assertSanitised(t, await failureOf(source.authorization()), 'connection refused (ECONNREFUSED)')
})

test('429 with retry-after: honoured, no request inside the period', async (t: TestContext) => {
  t.plan(8)
  let at = Date.now()
  const endpoint = await startTokenEndpoint(t, () => ({ status: 429, headers: { 'retry-after': '3' }, body: { error: 'slow_down' } }))
  const source = createCredentialSource('429', oauthConfig(endpoint.url, { clientSecret: SECRET }), { now: () => at, wallNow: () => at })
  t.after(() => source.close())
  const error = await failureOf(source.authorization())
  assertSanitised(t, error, 'HTTP 429 slow_down, retry after 3 s')
  t.assert.strictEqual(error.retryAfterMs, 3000)

  at += 2999
  t.assert.strictEqual(await failureOf(source.authorization()), error, 'the remembered error')
  t.assert.strictEqual(endpoint.requests.length, 1)
  at += 1
  endpoint.handler = () => tokenReply('after-the-wait', 3600)
  t.assert.strictEqual(await source.authorization(), 'Bearer after-the-wait')
})

test('503 with an HTTP-date retry-after', async (t: TestContext) => {
  t.plan(5)
  const at = Date.now()
  const date = new Date(Math.floor(at / 1000) * 1000 + 120_000).toUTCString()
  const endpoint = await startTokenEndpoint(t, () => ({ status: 503, headers: { 'retry-after': date } }))
  const source = createCredentialSource('503', oauthConfig(endpoint.url, { clientSecret: SECRET }), { now: () => at, wallNow: () => at })
  t.after(() => source.close())
  const error = await failureOf(source.authorization())
  assertSanitised(t, error, 'HTTP 503, retry after 120 s')
  t.assert.strictEqual(error.retryAfterMs, Math.floor(at / 1000) * 1000 + 120_000 - at)
})

test('a retry-after beyond 5 minutes is capped', async (t: TestContext) => {
  t.plan(4)
  const { error } = await fetchFrom(t, () => ({ status: 429, headers: { 'retry-after': '86400' } }))
  assertSanitised(t, error, 'HTTP 429, retry after 300 s')
})

test('private_key_jwt: neither the assertion nor the key appears in the error, even echoed back', async (t: TestContext) => {
  t.plan(5)
  const { privateKeyPem } = await generateKeyMaterial({ kid: 'k' })
  const { endpoint, error } = await fetchFrom(t, (request) => errorReply(400, 'invalid_grant', new URLSearchParams(request.body).get('client_assertion') ?? ''), {
    clientAuth: 'private_key_jwt', privateKey: privateKeyPem, keyId: 'k'
  })
  const assertion = new URLSearchParams(endpoint.requests[0]?.body).get('client_assertion') ?? ''
  t.assert.ok(assertion.length > 100)
  assertSanitised(t, error, 'HTTP 400 invalid_grant: <redacted>', [assertion, privateKeyPem.split('\n')[1] ?? 'x'])
})

test('logs carry the reason (the upstream comes from the caller\'s child logger), the metrics hook the outcome; never a secret, an assertion or a token', async (t: TestContext) => {
  t.plan(6)
  const lines: Array<{ level: string, obj: object, msg: string }> = []
  const log = {
    info: (obj: object, msg: string) => { lines.push({ level: 'info', obj, msg }) },
    warn: (obj: object, msg: string) => { lines.push({ level: 'warn', obj, msg }) }
  }
  const outcomes: unknown[] = []
  let at = Date.now()
  const endpoint = await startTokenEndpoint(t, (_request, index) => index === 0 ? tokenReply(LEAKED_TOKEN, 60) : errorReply(401, 'invalid_client', SECRET))
  const source = createCredentialSource('logged', oauthConfig(endpoint.url, { clientSecret: SECRET }), {
    now: () => at, wallNow: () => at, log, onFetch: (outcome, reason) => outcomes.push([outcome, reason])
  })
  t.after(() => source.close())
  await source.authorization()
  at += 60_000
  await failureOf(source.authorization())

  t.assert.deepStrictEqual(lines.map((l) => [l.level, l.msg]), [['info', 'token fetched'], ['warn', 'token fetch failed']])
  t.assert.deepStrictEqual(lines[0]?.obj, { expiresAt: at, lifetimeMs: 60_000 })
  t.assert.deepStrictEqual(lines[1]?.obj, { reason: 'HTTP 401 invalid_client: <redacted>', backoffMs: 1000 })
  t.assert.deepStrictEqual(outcomes, [['ok', undefined], ['failed', 'http']])
  const written = JSON.stringify(lines)
  t.assert.ok(!written.includes(SECRET), 'no secret in the logs')
  t.assert.ok(!written.includes(LEAKED_TOKEN), 'no token in the logs')
})
