/**
 * mTLS: an upstream that requires a client certificate is reachable with
 * `tls.cert` + `tls.key` (directly, through a tunnel, and for its token
 * endpoint) and is a 502 without them.
 */
import { after, test, type TestContext } from 'node:test'
import { startConnectProxy } from '../helpers/connect-proxy.js'
import { startEgressSidecar, type Problem } from '../helpers/egress-sidecar.js'
import { ORIGIN_TOKEN, startHttpsOrigin } from '../helpers/https-origin.js'
import { createPki, VENDOR_HOST } from '../helpers/pki.js'

const pki = createPki()
after(() => pki.remove())

test('with cert and key the upstream and its token endpoint see the client certificate; without, 502', async (t: TestContext) => {
  t.plan(8)
  const origin = await startHttpsOrigin(t, { key: pki.serverKey, cert: pki.serverCert, ca: pki.ca, requestCert: true, rejectUnauthorized: true })
  const auth = { type: 'oauth2_client_credentials', tokenUrl: `${origin.url()}/token`, clientId: 'id', clientSecret: 'mtls-client-secret' }
  const { url, logs } = await startEgressSidecar(t, {
    upstreams: {
      mtls: { target: origin.url(), tls: { ca: pki.ca, cert: pki.clientCert, key: pki.clientKey }, auth },
      anonymous: { target: origin.url(), tls: { ca: pki.ca } }
    }
  })
  const res = await fetch(`${url}/mtls/Patient`)
  t.assert.strictEqual(res.status, 200)
  t.assert.deepStrictEqual(await res.json(), { method: 'GET', url: '/Patient', authorization: `Bearer ${ORIGIN_TOKEN}`, clientCn: 'client' })
  t.assert.deepStrictEqual(origin.requests.map((r) => `${r.url} ${r.clientCn ?? '-'}`), ['/token client', '/Patient client'])

  const refused = await fetch(`${url}/anonymous/Patient`)
  t.assert.strictEqual(refused.status, 502)
  const problem = await refused.json() as Problem
  t.assert.strictEqual(problem.code, 'TG_UPSTREAM_UNREACHABLE')
  t.assert.strictEqual(problem.upstream, 'anonymous')
  t.assert.deepStrictEqual(origin.tlsErrors, ['ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE'])
  t.assert.ok(!logs.text().includes(pki.clientKey.split('\n')[1] as string), 'the client key is not logged')
})

test('over TLS 1.2 the missing client certificate is named in the detail', async (t: TestContext) => {
  t.plan(2)
  // TLS 1.3 servers refuse after the client's handshake is done, so the client sees only a closed connection.
  const origin = await startHttpsOrigin(t, { key: pki.serverKey, cert: pki.serverCert, ca: pki.ca, requestCert: true, rejectUnauthorized: true, maxVersion: 'TLSv1.2' })
  const { url } = await startEgressSidecar(t, { upstreams: { anonymous: { target: origin.url(), tls: { ca: pki.ca } } } })
  const res = await fetch(`${url}/anonymous/x`)
  t.assert.strictEqual(res.status, 502)
  t.assert.match((await res.json() as Problem).detail, /client certificate.*\(ERR_SSL_(SSLV3|SSL\/TLS)_ALERT_HANDSHAKE_FAILURE\)$/)
})

test('the client certificate goes through a CONNECT tunnel too', async (t: TestContext) => {
  t.plan(3)
  const origin = await startHttpsOrigin(t, { key: pki.serverKey, cert: pki.serverCert, ca: pki.ca, requestCert: true, rejectUnauthorized: true })
  const proxy = await startConnectProxy(t)
  const { url } = await startEgressSidecar(t, {
    upstreams: { mtls: { target: origin.url(VENDOR_HOST), tls: { ca: pki.ca, cert: pki.clientCert, key: pki.clientKey } } }
  }, { HTTPS_PROXY: proxy.url })
  const res = await fetch(`${url}/mtls/x`)
  t.assert.strictEqual(res.status, 200)
  t.assert.strictEqual(((await res.json()) as { clientCn: string }).clientCn, 'client')
  t.assert.strictEqual(proxy.requests.length, 1)
})
