/**
 * An upstream's own `proxy` key: it overrides HTTPS_PROXY, HTTP_PROXY and
 * NO_PROXY for that upstream (API and token endpoint), and only for it.
 */
import { after, test, type TestContext } from 'node:test'
import { startConnectProxy } from '../helpers/connect-proxy.js'
import { startEgressSidecar } from '../helpers/egress-sidecar.js'
import { ORIGIN_TOKEN, startHttpsOrigin } from '../helpers/https-origin.js'
import { createPki, VENDOR_HOST } from '../helpers/pki.js'

const pki = createPki()
after(() => pki.remove())

test('the upstream proxy key overrides the environment, NO_PROXY included, for the API and its token endpoint', async (t: TestContext) => {
  t.plan(6)
  const origin = await startHttpsOrigin(t, { key: pki.serverKey, cert: pki.serverCert })
  const fromEnv = await startConnectProxy(t)
  const own = await startConnectProxy(t)
  const vendor = origin.url(VENDOR_HOST)
  const { url } = await startEgressSidecar(t, {
    upstreams: {
      own: {
        target: vendor,
        proxy: own.url,
        tls: { ca: pki.ca },
        auth: { type: 'oauth2_client_credentials', tokenUrl: `${vendor}/token`, clientId: 'id', clientSecret: 'proxy-config-secret' }
      },
      // Same vendor, no key: the environment decides.
      env: { target: vendor, tls: { ca: pki.ca } }
    }
  }, { HTTPS_PROXY: fromEnv.url, NO_PROXY: VENDOR_HOST })

  const res = await fetch(`${url}/own/Patient`)
  t.assert.strictEqual(res.status, 200)
  t.assert.strictEqual(((await res.json()) as { authorization: string }).authorization, `Bearer ${ORIGIN_TOKEN}`)
  t.assert.deepStrictEqual(own.requests.map((r) => r.method), ['CONNECT', 'CONNECT'], 'token and API through the upstream\'s proxy')
  t.assert.strictEqual(fromEnv.requests.length, 0)

  // NO_PROXY names the vendor: without its own key the upstream goes direct, and cannot resolve the name.
  const direct = await fetch(`${url}/env/Patient`)
  t.assert.strictEqual(direct.status, 502)
  t.assert.strictEqual(fromEnv.requests.length + own.requests.length, 2)
})

test('the proxy key is used even for a loopback target, which an environment proxy never is', async (t: TestContext) => {
  t.plan(3)
  const origin = await startHttpsOrigin(t, { key: pki.serverKey, cert: pki.serverCert })
  const own = await startConnectProxy(t)
  const { url } = await startEgressSidecar(t, {
    upstreams: { local: { target: origin.url('127.0.0.1'), proxy: own.url, tls: { ca: pki.ca } } }
  })
  t.assert.strictEqual((await fetch(`${url}/local/x`)).status, 200)
  t.assert.deepStrictEqual(own.requests.map((r) => `${r.method} ${r.target}`), [`CONNECT 127.0.0.1:${origin.port}`])
  t.assert.strictEqual(origin.requests.length, 1)
})
