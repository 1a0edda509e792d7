/**
 * Issue 19 parts 6 and 8: no Authorization value, token, secret, assertion
 * or query value in anything tollgate exports. Every secret a sidecar holds
 * or sees is put in play (client secret, private key and its signed
 * assertion, static token, fetched tokens, the app's own credentials, the
 * inbound token, the collector's API key, patient data in the query), the
 * requests take the paths that could leak (a 401 retry, a failing token
 * endpoint quoting the secret back, an unreachable vendor), and then every
 * decoded attribute, event, link, name and resource value, and every export
 * body as it was received, is searched for each of them.
 */
import { test, type TestContext } from 'node:test'
import { generateKeyMaterial } from '../../src/auth/keygen.js'
import { startOtlpReceiver, type AttributeValue } from '../helpers/otlp-receiver.js'
import { startOrigin } from '../helpers/origin.js'
import { freePort } from '../helpers/ports.js'
import { startSidecar } from '../helpers/sidecar.js'
import { errorReply, startTokenEndpoint, tokenReply } from '../helpers/token-endpoint.js'

const CLIENT_SECRET = 'scan-client-secret-5ba1f3'
const STATIC_TOKEN = 'scan-static-token-77e0c2'
const INBOUND_TOKEN = 'scan-inbound-token-0f9d41ab'
const COLLECTOR_KEY = 'scan-collector-key-3c6e'
const APP_BEARER = 'scan-app-bearer-a41c'
const APP_COOKIE = 'scan-app-cookie-d27b'
const PATIENT = 'Smithers-Burns'
const BIRTHDATE = '1956-03-14'

function strings (value: AttributeValue): string[] {
  if (Array.isArray(value)) return value.flatMap(strings)
  return [String(value)]
}

test('no secret, token, assertion, credential or query value is in any exported span', async (t: TestContext) => {
  t.plan(9)
  const receiver = await startOtlpReceiver(t)
  const { privateKeyPem } = await generateKeyMaterial({ kid: 'scan-kid' })
  // Tokens that differ per fetch; a failing endpoint that echoes the secret back.
  const tokens = await startTokenEndpoint(t, (request, index) => request.path === '/token-broken'
    ? errorReply(400, 'invalid_client', `client_secret ${CLIENT_SECRET} is wrong`)
    : tokenReply(`scan-access-token-${index}-9e1d`, 3600))
  const revoked = new Set<string>()
  const origin = await startOrigin(t, (req, res) => {
    req.resume()
    const authorization = req.headers.authorization ?? ''
    res.writeHead(revoked.has(authorization) ? 401 : 200).end()
    // Every token fetched with the secret works once, then is revoked: the next request takes the 401 retry.
    if (authorization.includes('scan-access-token-')) revoked.add(authorization)
  })
  const running = await startSidecar(t, {
    server: { inboundToken: INBOUND_TOKEN },
    telemetry: { endpoint: receiver.url, protocol: 'http/json', headers: { 'x-collector-key': COLLECTOR_KEY } },
    upstreams: {
      secret: { target: origin.url, auth: { type: 'oauth2_client_credentials', tokenUrl: tokens.url, clientId: 'scan-client', clientSecret: CLIENT_SECRET } },
      signed: { target: origin.url, auth: { type: 'oauth2_client_credentials', tokenUrl: `${tokens.origin}/token-signed`, clientId: 'scan-signed', clientAuth: 'private_key_jwt', privateKey: privateKeyPem, keyId: 'scan-kid' } },
      broken: { target: origin.url, auth: { type: 'oauth2_client_credentials', tokenUrl: `${tokens.origin}/token-broken`, clientId: 'scan-broken', clientSecret: CLIENT_SECRET } },
      fixed: { target: origin.url, auth: { type: 'static_bearer', token: STATIC_TOKEN } },
      gone: { target: `http://127.0.0.1:${await freePort()}`, auth: { type: 'static_bearer', token: STATIC_TOKEN } }
    }
  }, {})
  const statuses: number[] = []
  for (const path of ['/secret/a', '/secret/b', '/signed/a', '/signed/b', '/broken/a', '/fixed/a', '/gone/a']) {
    const res = await fetch(`${running.url}${path}?family=${PATIENT}&birthdate=${BIRTHDATE}`, {
      headers: { authorization: `Bearer ${APP_BEARER}`, cookie: `session=${APP_COOKIE}`, 'x-tollgate-token': INBOUND_TOKEN, 'user-agent': 'scan-app/1.0' }
    })
    await res.arrayBuffer()
    statuses.push(res.status)
  }
  t.assert.deepStrictEqual(statuses, [200, 200, 200, 200, 502, 200, 502])
  await running.sidecar.tracing?.flush()
  await receiver.waitForSpans(20)

  // What was in play: each secret went where it belongs (so its absence below means something).
  const assertions = tokens.requests.map((request) => new URLSearchParams(request.body).get('client_assertion')).filter((value): value is string => value !== null)
  t.assert.ok(assertions.length >= 1 && assertions.every((a) => a.length > 100), 'signed assertions were sent')
  const fetched = tokens.requests.map((_request, index) => `scan-access-token-${index}-9e1d`)
  t.assert.ok(origin.requests.some((r) => r.headers.authorization === `Bearer ${STATIC_TOKEN}`) && origin.requests.some((r) => r.headers.authorization === `Bearer ${fetched[0] ?? ''}`), 'the tokens reached the vendor')
  t.assert.ok(receiver.exports.every((e) => e.headers['x-collector-key'] === COLLECTOR_KEY), 'the collector got its key, as a header')
  t.assert.ok(origin.requests.filter((r) => r.headers.authorization?.includes('scan-access-token') === true).length >= 3, 'the 401 retries happened')

  const secrets = [
    CLIENT_SECRET, STATIC_TOKEN, INBOUND_TOKEN, COLLECTOR_KEY, APP_BEARER, APP_COOKIE, PATIENT, BIRTHDATE,
    ...fetched, ...assertions,
    // Any line of the key's base64, and the assertion's signature alone.
    ...privateKeyPem.split('\n').filter((line) => line.length > 40),
    ...assertions.map((a) => a.split('.')[2] ?? a)
  ]
  // Every value exported, decoded: span names, attributes, events, links, the resource and the scope.
  const values = receiver.spans.flatMap((span) => [
    span.name, span.scope,
    ...Object.entries(span.attributes).flatMap(([key, value]) => [key, ...strings(value)]),
    ...Object.entries(span.resource).flatMap(([key, value]) => [key, ...strings(value)]),
    ...span.events.flatMap((event) => [event.name, ...Object.values(event.attributes).flatMap(strings)]),
    ...span.links.flatMap((link) => Object.values(link.attributes).flatMap(strings))
  ])
  t.assert.ok(values.length > 200, `the scan read ${values.length} values`)
  const leaks = secrets.filter((secret) => values.some((value) => value.includes(secret)))
  t.assert.deepStrictEqual(leaks, [], 'a secret in an exported value')
  // And the bodies as they came: whatever the decoding above could have missed.
  const bodies = receiver.exports.map((e) => e.body.toString('utf8')).join('\n')
  t.assert.deepStrictEqual(secrets.filter((secret) => bodies.includes(secret)), [], 'a secret in an export body')
  // What is there instead: the names of the query, never its values; no header is an attribute.
  t.assert.ok(receiver.spans.some((span) => span.attributes['url.query'] === 'family=REDACTED&birthdate=REDACTED') &&
    receiver.spans.every((span) => Object.keys(span.attributes).every((key) => !key.startsWith('http.request.header.') && !key.startsWith('http.response.header.'))), 'query names only, no header attributes')
})
