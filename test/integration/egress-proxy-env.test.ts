/**
 * HTTPS_PROXY / HTTP_PROXY / NO_PROXY, read from the environment the sidecar
 * was built with, for API and token requests alike. The test proxy resolves
 * every name to 127.0.0.1, so a request to vendor.example can only succeed
 * through it.
 */
import { after, test, type TestContext } from 'node:test'
import { startConnectProxy } from '../helpers/connect-proxy.js'
import { startEgressSidecar, type Problem } from '../helpers/egress-sidecar.js'
import { ORIGIN_TOKEN, startHttpsOrigin } from '../helpers/https-origin.js'
import { startOrigin } from '../helpers/origin.js'
import { createPki, VENDOR_HOST } from '../helpers/pki.js'
import { startTokenEndpoint, tokenReply } from '../helpers/token-endpoint.js'

const pki = createPki()
after(() => pki.remove())

function oauth (tokenUrl: string): Record<string, unknown> {
  return { type: 'oauth2_client_credentials', tokenUrl, clientId: 'egress-client', clientSecret: 'egress-client-secret' }
}

test('the API request and the token request both go through HTTPS_PROXY', async (t: TestContext) => {
  t.plan(5)
  const origin = await startHttpsOrigin(t, { key: pki.serverKey, cert: pki.serverCert })
  const proxy = await startConnectProxy(t)
  const vendor = origin.url(VENDOR_HOST)
  const { url } = await startEgressSidecar(t, {
    upstreams: { vendor: { target: vendor, tls: { ca: pki.ca }, auth: oauth(`${vendor}/token`) } }
  }, { HTTPS_PROXY: proxy.url })

  const res = await fetch(`${url}/vendor/Patient?active=true`)
  t.assert.strictEqual(res.status, 200)
  t.assert.deepStrictEqual(await res.json(), { method: 'GET', url: '/Patient?active=true', authorization: `Bearer ${ORIGIN_TOKEN}` })
  // One tunnel for the token endpoint, one for the API: separate pools, the same proxy.
  t.assert.deepStrictEqual(proxy.requests.map((r) => `${r.method} ${r.target}`), [`CONNECT ${VENDOR_HOST}:${origin.port}`, `CONNECT ${VENDOR_HOST}:${origin.port}`])
  t.assert.deepStrictEqual(origin.requests.map((r) => `${r.method} ${r.url}`), ['POST /token', 'GET /Patient?active=true'])
  // A second request reuses the API tunnel.
  await (await fetch(`${url}/vendor/Patient`)).arrayBuffer()
  t.assert.strictEqual(proxy.requests.length, 2)
})

test('lower-case https_proxy is honoured and wins over HTTPS_PROXY', async (t: TestContext) => {
  t.plan(3)
  const origin = await startHttpsOrigin(t, { key: pki.serverKey, cert: pki.serverCert })
  const lower = await startConnectProxy(t)
  const upper = await startConnectProxy(t)
  const { url } = await startEgressSidecar(t, {
    upstreams: { vendor: { target: origin.url(VENDOR_HOST), tls: { ca: pki.ca } } }
  }, { https_proxy: lower.url, HTTPS_PROXY: upper.url })
  t.assert.strictEqual((await fetch(`${url}/vendor/x`)).status, 200)
  t.assert.strictEqual(lower.requests.length, 1)
  t.assert.strictEqual(upper.requests.length, 0)
})

test('plain http targets go through HTTP_PROXY in absolute form, the token request too', async (t: TestContext) => {
  t.plan(4)
  const origin = await startOrigin(t)
  const tokens = await startTokenEndpoint(t, () => tokenReply('plain-http-token', 3600))
  const proxy = await startConnectProxy(t)
  const target = `http://${VENDOR_HOST}:${new URL(origin.url).port}`
  const tokenUrl = `http://${VENDOR_HOST}:${new URL(tokens.origin).port}/token`
  const { url } = await startEgressSidecar(t, {
    upstreams: { vendor: { target, auth: oauth(tokenUrl) } }
  }, { HTTP_PROXY: proxy.url })
  const res = await fetch(`${url}/vendor/Patient`)
  t.assert.strictEqual(res.status, 200)
  t.assert.strictEqual(((await res.json()) as { headers: Record<string, string> }).headers.authorization, 'Bearer plain-http-token')
  t.assert.deepStrictEqual(proxy.requests.map((r) => `${r.method} ${r.target}`), [`POST ${tokenUrl}`, `GET ${target}/Patient`])
  t.assert.strictEqual(tokens.requests.length, 1)
})

test('NO_PROXY bypasses the proxy for the hosts it names, and only those', async (t: TestContext) => {
  t.plan(6)
  const origin = await startHttpsOrigin(t, { key: pki.serverKey, cert: pki.serverCert })
  const proxy = await startConnectProxy(t)
  const { url } = await startEgressSidecar(t, {
    upstreams: {
      proxied: { target: origin.url(VENDOR_HOST), tls: { ca: pki.ca } },
      // Listed in NO_PROXY (as a domain suffix): the sidecar resolves the name itself, and cannot.
      direct: { target: origin.url('api.internal.example'), tls: { ca: pki.ca } }
    }
  }, { HTTPS_PROXY: proxy.url, NO_PROXY: 'localhost, .internal.example' })

  t.assert.strictEqual((await fetch(`${url}/proxied/x`)).status, 200)
  const res = await fetch(`${url}/direct/x`)
  t.assert.strictEqual(res.status, 502)
  const problem = await res.json() as Problem
  t.assert.strictEqual(problem.code, 'TG_UPSTREAM_UNREACHABLE')
  t.assert.match(problem.detail, /ENOTFOUND|EAI_AGAIN|connect timed out/, 'a local DNS lookup: it went direct')
  t.assert.deepStrictEqual(proxy.requests.map((r) => r.target), [`${VENDOR_HOST}:${origin.port}`])
  t.assert.strictEqual(origin.requests.length, 1)
})

test('NO_PROXY=* turns the environment proxy off', async (t: TestContext) => {
  t.plan(2)
  const proxy = await startConnectProxy(t)
  const { url } = await startEgressSidecar(t, {
    upstreams: { vendor: { target: `https://${VENDOR_HOST}:9` } }
  }, { HTTPS_PROXY: proxy.url, NO_PROXY: '*' })
  t.assert.strictEqual((await fetch(`${url}/vendor/x`)).status, 502)
  t.assert.strictEqual(proxy.requests.length, 0)
})

test('a loopback target never goes through an environment proxy, even when NO_PROXY does not list it', async (t: TestContext) => {
  t.plan(5)
  const origin = await startHttpsOrigin(t, { key: pki.serverKey, cert: pki.serverCert })
  const proxy = await startConnectProxy(t)
  const { url } = await startEgressSidecar(t, {
    upstreams: {
      ip: { target: origin.url('127.0.0.1'), tls: { ca: pki.ca }, auth: oauth(`${origin.url('127.0.0.1')}/token`) },
      name: { target: origin.url('localhost'), tls: { ca: pki.ca } }
    }
  }, { HTTPS_PROXY: proxy.url, HTTP_PROXY: proxy.url, NO_PROXY: 'nothing.example' })
  const res = await fetch(`${url}/ip/x`)
  t.assert.strictEqual(res.status, 200)
  t.assert.strictEqual(((await res.json()) as { authorization: string }).authorization, `Bearer ${ORIGIN_TOKEN}`)
  t.assert.strictEqual((await fetch(`${url}/name/x`)).status, 200)
  t.assert.strictEqual(proxy.requests.length, 0)
  t.assert.strictEqual(origin.requests.length, 3)
})

test('an environment proxy that is not an http(s) URL stops the start, without echoing it', async (t: TestContext) => {
  t.plan(2)
  const bad = 'socks9://user:hunter2-proxy-pass@proxy.example:1080'
  await t.assert.rejects(startEgressSidecar(t, { upstreams: { vendor: { target: `https://${VENDOR_HOST}` } } }, { HTTPS_PROXY: bad }), (err: Error) => {
    t.assert.ok(!err.message.includes('hunter2'), 'the password is not in the message')
    return /HTTPS_PROXY must be an http:\/\/ or https:\/\/ proxy URL/.test(err.message)
  })
})
