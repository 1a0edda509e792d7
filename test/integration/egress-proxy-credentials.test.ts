/**
 * A proxy URL with credentials (`http://user:pass@proxy:3128`), from the
 * config or the environment: they are sent as Basic Proxy-Authorization,
 * and the password never reaches a log line, at any level, in any form.
 */
import { after, test, type TestContext } from 'node:test'
import { startConnectProxy } from '../helpers/connect-proxy.js'
import { startEgressSidecar, type Problem } from '../helpers/egress-sidecar.js'
import { startHttpsOrigin } from '../helpers/https-origin.js'
import { startOrigin } from '../helpers/origin.js'
import { createPki, VENDOR_HOST } from '../helpers/pki.js'

const pki = createPki()
after(() => pki.remove())

// Characters that must be percent-encoded in a URL, so both spellings are checked.
const USER = 'svc-tollgate'
const PASSWORD = 'pr0xy:p@ss/w0rd'
const BASIC = Buffer.from(`${USER}:${PASSWORD}`).toString('base64')

function leaks (text: string): string[] {
  return [PASSWORD, encodeURIComponent(PASSWORD), BASIC].filter((needle) => text.includes(needle))
}

async function setup (t: TestContext) {
  const origin = await startHttpsOrigin(t, { key: pki.serverKey, cert: pki.serverCert })
  const proxy = await startConnectProxy(t, { credentials: `${USER}:${PASSWORD}` })
  const vendor = origin.url(VENDOR_HOST)
  const upstream = {
    target: vendor,
    tls: { ca: pki.ca },
    auth: { type: 'oauth2_client_credentials', tokenUrl: `${vendor}/token`, clientId: 'id', clientSecret: 'proxy-credentials-client-secret' }
  }
  return { origin, proxy, upstream }
}

test('credentials in the proxy key work for API and token requests and never appear in the logs', async (t: TestContext) => {
  t.plan(4)
  const { proxy, upstream } = await setup(t)
  const { url, logs } = await startEgressSidecar(t, { upstreams: { vendor: { ...upstream, proxy: proxy.urlWithCredentials } } })
  const res = await fetch(`${url}/vendor/Patient`)
  t.assert.strictEqual(res.status, 200)
  t.assert.deepStrictEqual(proxy.requests.map((r) => r.authorization), [`Basic ${BASIC}`, `Basic ${BASIC}`])
  t.assert.ok(proxy.requests.every((r) => r.allowed))
  t.assert.deepStrictEqual(leaks(logs.text()), [])
})

test('credentials in HTTPS_PROXY work and never appear in the logs', async (t: TestContext) => {
  t.plan(3)
  const { proxy, upstream } = await setup(t)
  const { url, logs } = await startEgressSidecar(t, { upstreams: { vendor: upstream } }, { HTTPS_PROXY: proxy.urlWithCredentials })
  t.assert.strictEqual((await fetch(`${url}/vendor/Patient`)).status, 200)
  t.assert.deepStrictEqual(proxy.requests.map((r) => r.authorization), [`Basic ${BASIC}`, `Basic ${BASIC}`])
  t.assert.deepStrictEqual(leaks(logs.text()), [])
})

test('wrong proxy credentials: 502 saying the proxy wants credentials, and still no password in the logs', async (t: TestContext) => {
  t.plan(6)
  const { proxy, upstream } = await setup(t)
  const wrong = proxy.urlWithCredentials.replace(encodeURIComponent(PASSWORD), 'not-the-password')
  const { url, logs } = await startEgressSidecar(t, {
    upstreams: {
      // The token request is refused first.
      token: { ...upstream, proxy: wrong },
      api: { target: upstream.target, tls: { ca: pki.ca }, proxy: wrong }
    }
  }, { HTTPS_PROXY: proxy.urlWithCredentials })
  const token = await fetch(`${url}/token/Patient`)
  t.assert.strictEqual(token.status, 502)
  const tokenProblem = await token.json() as Problem
  t.assert.deepStrictEqual([tokenProblem.code, tokenProblem.detail], ['TG_TOKEN_FETCH_FAILED', 'the token endpoint failed: the proxy wants credentials, or refused them (HTTP 407)'])
  const api = await fetch(`${url}/api/Patient`)
  t.assert.strictEqual(api.status, 502)
  const apiProblem = await api.json() as Problem
  t.assert.strictEqual(apiProblem.code, 'TG_UPSTREAM_UNREACHABLE')
  t.assert.match(apiProblem.detail, /proxy wants credentials.*407/)
  t.assert.deepStrictEqual([...leaks(logs.text()), ...['not-the-password'].filter((p) => logs.text().includes(p))], [])
})

test('plain http through HTTP_PROXY (absolute form) carries the credentials too; wrong ones are a 502 naming the 407', async (t: TestContext) => {
  t.plan(5)
  const origin = await startOrigin(t)
  const proxy = await startConnectProxy(t, { credentials: `${USER}:${PASSWORD}` })
  const target = `http://${VENDOR_HOST}:${new URL(origin.url).port}`
  const wrong = proxy.urlWithCredentials.replace(encodeURIComponent(PASSWORD), 'not-the-password')
  const { url, logs } = await startEgressSidecar(t, {
    upstreams: { env: { target }, wrong: { target, proxy: wrong } }
  }, { HTTP_PROXY: proxy.urlWithCredentials })
  t.assert.strictEqual((await fetch(`${url}/env/x`)).status, 200)
  t.assert.deepStrictEqual(proxy.requests.map((r) => `${r.method} ${r.authorization ?? ''}`), [`GET Basic ${BASIC}`])
  const res = await fetch(`${url}/wrong/x`)
  t.assert.strictEqual(res.status, 502)
  t.assert.match((await res.json() as Problem).detail, /proxy wants credentials.*407/)
  t.assert.deepStrictEqual(leaks(logs.text()), [])
})
