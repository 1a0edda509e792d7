/**
 * At `debug`: each attempt's outgoing URL, every query value replaced by
 * REDACTED (the names kept: FHIR queries carry patient data), and each token
 * request without its secret (method, URL, auth method, body field names).
 * Nothing of this at `info`.
 */
import { test, type TestContext } from 'node:test'
import { generateKeyMaterial } from '../../src/auth/keygen.js'
import { startOrigin } from '../helpers/origin.js'
import { startSidecar } from '../helpers/sidecar.js'
import { startTokenEndpoint, tokenReply } from '../helpers/token-endpoint.js'

type Entry = Record<string, unknown>

const SECRET = 'debug-secret-Vb83kq'
const TOKEN = 'debug-access-token-Lm29x'

test('debug: the outgoing URL with every query value REDACTED, names kept, per attempt', async (t: TestContext) => {
  t.plan(6)
  const origin = await startOrigin(t)
  const { url, logs, close } = await startSidecar(t, { log: { level: 'debug' }, upstreams: { halaxy: { target: `${origin.url}/main` } } })
  const res = await fetch(`${url}/halaxy/Patient?family=Smith&birthdate=1970-01-01&given=J%C3%BCrgen&_count=&active`, { headers: { 'x-request-id': 'debug-url-1' } })
  t.assert.strictEqual(res.status, 200)
  await res.arrayBuffer()
  t.assert.strictEqual(origin.requests[0]?.url, '/main/Patient?family=Smith&birthdate=1970-01-01&given=J%C3%BCrgen&_count=&active', 'the vendor still gets the query byte for byte')
  await close()
  const lines = logs.entries().filter((entry) => entry.msg === 'upstream request')
  t.assert.strictEqual(lines.length, 1)
  const [line] = lines as [Entry]
  t.assert.deepStrictEqual({ level: line.level, requestId: line.requestId, upstream: line.upstream, method: line.method, attempt: line.attempt }, { level: 20, requestId: 'debug-url-1', upstream: 'halaxy', method: 'GET', attempt: 1 })
  t.assert.strictEqual(line.url, `${origin.url}/main/Patient?family=REDACTED&birthdate=REDACTED&given=REDACTED&_count=REDACTED&active`)
  const text = logs.text()
  t.assert.ok(!['Smith', '1970-01-01', 'J%C3%BCrgen', 'Jürgen'].some((value) => text.includes(value)), 'no query value anywhere in the log')
})

test('info: no upstream request or token request lines', async (t: TestContext) => {
  t.plan(2)
  const endpoint = await startTokenEndpoint(t, () => tokenReply(TOKEN, 3600))
  const origin = await startOrigin(t)
  const { url, logs, close } = await startSidecar(t, {
    log: { level: 'info' },
    upstreams: { vendor: { target: origin.url, auth: { type: 'oauth2_client_credentials', tokenUrl: endpoint.url, clientId: 'id', clientSecret: SECRET } } }
  })
  t.assert.strictEqual((await fetch(`${url}/vendor/Patient?name=x`)).status, 200)
  await close()
  const messages = logs.entries().map((entry) => entry.msg)
  t.assert.ok(!messages.includes('upstream request') && !messages.includes('token request'))
})

test('debug: the token request as method, URL, auth method and body field names, never a value', async (t: TestContext) => {
  t.plan(5)
  const endpoint = await startTokenEndpoint(t, () => tokenReply(TOKEN, 3600))
  const origin = await startOrigin(t)
  const { url, logs, close } = await startSidecar(t, {
    log: { level: 'debug' },
    upstreams: {
      vendor: {
        target: origin.url,
        auth: { type: 'oauth2_client_credentials', tokenUrl: endpoint.url, clientId: 'debug-client', clientSecret: SECRET, scope: 'patient/*.read', params: { resource: 'https://api.example' } }
      }
    }
  })
  t.assert.strictEqual((await fetch(`${url}/vendor/Patient`)).status, 200)
  await close()
  const lines = logs.entries().filter((entry) => entry.msg === 'token request')
  t.assert.strictEqual(lines.length, 1)
  const [line] = lines as [Entry]
  t.assert.deepStrictEqual(
    { level: line.level, upstream: line.upstream, method: line.method, url: line.url, clientAuth: line.clientAuth, bodyEncoding: line.bodyEncoding, fields: line.fields },
    { level: 20, upstream: 'vendor', method: 'POST', url: endpoint.url, clientAuth: 'client_secret_post', bodyEncoding: 'form', fields: ['resource', 'grant_type', 'scope', 'client_id', 'client_secret'] })
  const text = logs.text()
  t.assert.ok(!text.includes(SECRET) && !text.includes(TOKEN), 'no secret, no token')
  t.assert.ok(!text.includes('debug-client') && !text.includes('api.example') && !text.includes('patient/*.read'), 'no field value')
})

test('debug, private_key_jwt: the token request names client_assertion, never its value or the key', async (t: TestContext) => {
  t.plan(4)
  const { privateKeyPem } = await generateKeyMaterial({ kid: 'debug-kid' })
  const endpoint = await startTokenEndpoint(t, () => tokenReply(TOKEN, 3600))
  const origin = await startOrigin(t)
  const { url, logs, close } = await startSidecar(t, {
    log: { level: 'trace' },
    upstreams: {
      redox: { target: origin.url, auth: { type: 'oauth2_client_credentials', tokenUrl: endpoint.url, clientId: 'redox-client', clientAuth: 'private_key_jwt', privateKey: privateKeyPem, keyId: 'debug-kid' } }
    }
  })
  t.assert.strictEqual((await fetch(`${url}/redox/Patient`)).status, 200)
  await close()
  const line = logs.entries().find((entry) => entry.msg === 'token request')
  t.assert.deepStrictEqual({ clientAuth: line?.clientAuth, fields: line?.fields }, { clientAuth: 'private_key_jwt', fields: ['grant_type', 'client_assertion_type', 'client_assertion'] })
  const assertion = new URLSearchParams(endpoint.requests[0]?.body).get('client_assertion') ?? ''
  const text = logs.text()
  t.assert.ok(assertion.length > 100 && !text.includes(assertion), 'no assertion')
  t.assert.ok(!privateKeyPem.split('\n').slice(1, -2).some((keyLine) => text.includes(keyLine)), 'no key material')
})
