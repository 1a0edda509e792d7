/**
 * A token endpoint's `error_description` says what is wrong better than we
 * can ("Client authentication failed", "unknown scope"), so it goes into the
 * problem's `detail` and the log: control characters removed, at most 200
 * characters, and anything secret in it (the client secret, the assertion,
 * key material, or whatever looks like a credential) replaced by <redacted>.
 * Token endpoints here echo what they were sent, as careless ones do.
 */
import { test, type TestContext } from 'node:test'
import { generateKeyMaterial } from '../../src/auth/keygen.js'
// @ts-expect-error -- a plain .mjs script shared with scripts/test.mjs, no types
import { LEAKS } from '../../scripts/secret-patterns.mjs'
import { startOrigin } from '../helpers/origin.js'
import { startSidecar, type RunningSidecar } from '../helpers/sidecar.js'
import { errorReply, startTokenEndpoint, type TokenHandler } from '../helpers/token-endpoint.js'

const SECRET = 'echoed-secret-Tq83Zp&x=1'
const MAX_DESCRIPTION = 200
const patterns = LEAKS as Array<[string, RegExp]>

async function sidecarWith (t: TestContext, handler: TokenHandler, auth: Record<string, unknown> = {}): Promise<RunningSidecar> {
  const endpoint = await startTokenEndpoint(t, handler)
  const origin = await startOrigin(t)
  return await startSidecar(t, {
    upstreams: {
      vendor: { target: origin.url, auth: { type: 'oauth2_client_credentials', tokenUrl: endpoint.url, clientId: 'echo-client', clientSecret: SECRET, ...auth } }
    }
  })
}

async function detailOf (sidecar: RunningSidecar): Promise<string> {
  const res = await fetch(`${sidecar.url}/vendor/Patient`)
  const text = await res.text()
  if (res.status !== 502) throw new Error(`expected 502, got ${res.status}: ${text}`)
  return String((JSON.parse(text) as Record<string, unknown>).detail)
}

/** The vendor's words as they appear after `HTTP <status> <error>: `. */
function description (detail: string): string {
  return detail.slice(detail.indexOf(': ', detail.indexOf('HTTP ')) + 2)
}

test('error_description goes into the problem detail and the log', async (t: TestContext) => {
  t.plan(4)
  const sidecar = await sidecarWith(t, () => errorReply(401, 'invalid_client', 'Client authentication failed'))
  const detail = await detailOf(sidecar)
  t.assert.strictEqual(detail, 'the token endpoint failed: HTTP 401 invalid_client: Client authentication failed')
  await sidecar.close()
  const lines = sidecar.logs.entries()
  t.assert.strictEqual(lines.find((entry) => entry.msg === 'token fetch failed')?.reason, 'HTTP 401 invalid_client: Client authentication failed')
  t.assert.strictEqual(lines.find((entry) => entry.msg === 'sidecar error')?.detail, detail)
  t.assert.strictEqual(sidecar.sidecar.upstreams[0]?.credentials.status().lastError, 'HTTP 401 invalid_client: Client authentication failed', '/status too')
})

test('the client secret echoed in error_description: <redacted> in the detail and the logs, raw, form- or URL-encoded', async (t: TestContext) => {
  t.plan(5)
  const formEncoded = new URLSearchParams({ s: SECRET }).toString().slice(2)
  const sidecar = await sidecarWith(t, (request) => errorReply(401, 'invalid_client',
    `secret ${SECRET} is wrong; you sent ${request.body}; encoded ${encodeURIComponent(SECRET)}`))
  const detail = await detailOf(sidecar)
  t.assert.strictEqual(detail, 'the token endpoint failed: HTTP 401 invalid_client: secret <redacted> is wrong; you sent grant_type=client_credentials&client_id=echo-client&client_secret=<redacted>; encoded <redacted>')
  t.assert.ok(!detail.includes(SECRET) && !detail.includes(formEncoded) && !detail.includes(encodeURIComponent(SECRET)))
  await sidecar.close()
  const text = sidecar.logs.text()
  t.assert.ok(text.includes('<redacted>'), 'the log carries the redacted description')
  t.assert.ok(!text.includes(SECRET) && !text.includes(formEncoded) && !text.includes(encodeURIComponent(SECRET)), 'never the secret')
  t.assert.ok(!text.includes('[redacted]'), 'redacted before it reached the log: the censor had nothing left to do')
})

test('client_secret_basic: the Authorization header echoed back is <redacted>', async (t: TestContext) => {
  t.plan(3)
  const sidecar = await sidecarWith(t, (request) => errorReply(401, 'invalid_client', `bad credentials in ${String(request.headers.authorization)}`), { clientAuth: 'client_secret_basic' })
  const detail = await detailOf(sidecar)
  t.assert.strictEqual(description(detail), 'bad credentials in Basic <redacted>')
  await sidecar.close()
  const basic = Buffer.from(`echo-client:${encodeURIComponent(SECRET)}`).toString('base64').slice(0, 20)
  t.assert.ok(!detail.includes(basic))
  t.assert.ok(!sidecar.logs.text().includes(basic))
})

test('private_key_jwt: the assertion and key material echoed back are <redacted>', async (t: TestContext) => {
  t.plan(5)
  const { privateKeyPem } = await generateKeyMaterial({ kid: 'echo-kid' })
  const keyLine = privateKeyPem.split('\n')[3] ?? ''
  let assertion = ''
  const sidecar = await sidecarWith(t, (request) => {
    assertion = new URLSearchParams(request.body).get('client_assertion') ?? ''
    return errorReply(400, 'invalid_client', `assertion ${assertion} rejected; key ${keyLine}`)
  }, { clientAuth: 'private_key_jwt', privateKey: privateKeyPem, keyId: 'echo-kid', clientSecret: undefined })
  const detail = await detailOf(sidecar)
  t.assert.ok(assertion.length > 100)
  t.assert.strictEqual(description(detail), 'assertion <redacted> rejected; key <redacted>')
  t.assert.ok(!detail.includes(keyLine.slice(0, 40)), 'no key material')
  await sidecar.close()
  const text = sidecar.logs.text()
  t.assert.ok(!text.includes(assertion.slice(0, 60)) && !text.includes(keyLine.slice(0, 40)))
  t.assert.match(detail, /<redacted>/)
})

test('anything that looks like a credential (scripts/secret-patterns.mjs) is <redacted>', async (t: TestContext) => {
  const samples = [
    '-----BEGIN PRIVATE KEY----- MIIEvQIBADANBgkqhkiG9w0BAQEFAASC',
    'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhYmMxMjMifQ.c2lnbmF0dXJlc2lnbmF0dXJlc2ln',
    'Bearer abcdefghijklmnop1234',
    'client_assertion=abcdefghijklmnopqrstuvwxyz',
    '"client_secret": "not-the-configured-one"',
    '"access_token": "some-token-value-here"'
  ]
  t.plan(2 + samples.length)
  // Every pattern the test run is scanned for has a sample here.
  t.assert.ok(patterns.every(([, pattern]) => samples.some((sample) => pattern.test(sample))), 'a sample per pattern')
  const details: string[] = []
  for (const sample of samples) {
    const endpoint = await startTokenEndpoint(t, () => errorReply(400, 'invalid_request', `sample: ${sample}`))
    const origin = await startOrigin(t)
    const one = await startSidecar(t, { upstreams: { vendor: { target: origin.url, auth: { type: 'oauth2_client_credentials', tokenUrl: endpoint.url, clientId: 'id', clientSecret: SECRET } } } })
    details.push(await detailOf(one))
    await one.close()
    t.assert.ok(patterns.every(([, pattern]) => !pattern.test(one.logs.text())), 'the log holds nothing that looks like a credential')
  }
  t.assert.ok(details.every((detail) => patterns.every(([, pattern]) => !pattern.test(detail)) && detail.includes('<redacted>')), 'every detail redacted')
})

test('control characters are removed and the description is capped at 200 characters', async (t: TestContext) => {
  t.plan(4)
  const long = `line one\r\nline two\u0000\u001b[31m red\u0007 \u202eesrever ${'x'.repeat(400)}`
  const sidecar = await sidecarWith(t, () => errorReply(400, 'invalid_scope', long))
  const detail = await detailOf(sidecar)
  const words = description(detail)
  t.assert.ok(words.startsWith('line one line two[31m red esrever xxx'), words.slice(0, 60))
  t.assert.doesNotMatch(words, /[\p{Cc}\p{Cf}]/u, 'no control or format character')
  t.assert.ok([...words].length <= MAX_DESCRIPTION, `${[...words].length} characters`)
  t.assert.ok(words.endsWith('…'), 'a cut description says so')
})

test('a secret cut at the 200-character boundary is redacted before the cut', async (t: TestContext) => {
  t.plan(2)
  const sidecar = await sidecarWith(t, () => errorReply(400, 'invalid_client', `${'y'.repeat(190)}${SECRET}`))
  const detail = await detailOf(sidecar)
  t.assert.ok(!detail.includes(SECRET.slice(0, 8)), 'no prefix of the secret')
  t.assert.ok(description(detail).startsWith('y'.repeat(190)))
})
