/**
 * An upstream whose certificate comes from a private CA: reachable only with
 * that CA in `tls.ca`, for the API and the token endpoint alike; without it,
 * a 502 whose detail names the certificate failure.
 */
import { after, test, type TestContext } from 'node:test'
import { startConnectProxy } from '../helpers/connect-proxy.js'
import { startEgressSidecar, type Problem } from '../helpers/egress-sidecar.js'
import { ORIGIN_TOKEN, startHttpsOrigin } from '../helpers/https-origin.js'
import { createPki } from '../helpers/pki.js'

const pki = createPki()
after(() => pki.remove())

const UNTRUSTED = /^the upstream could not be reached: TLS: .*\((UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN)\)$/

test('a private-CA upstream works with tls.ca, and is a 502 naming the certificate failure without it or with another CA', async (t: TestContext) => {
  t.plan(7)
  const origin = await startHttpsOrigin(t, { key: pki.serverKey, cert: pki.serverCert })
  const { url } = await startEgressSidecar(t, {
    upstreams: {
      trusted: { target: origin.url(), tls: { ca: pki.ca } },
      untrusted: { target: origin.url() },
      wrong: { target: origin.url(), tls: { ca: pki.otherCa } }
    }
  })
  t.assert.strictEqual((await fetch(`${url}/trusted/x`)).status, 200)
  for (const name of ['untrusted', 'wrong']) {
    const res = await fetch(`${url}/${name}/x`)
    t.assert.strictEqual(res.status, 502)
    const problem = await res.json() as Problem
    t.assert.strictEqual(problem.code, 'TG_UPSTREAM_UNREACHABLE')
    t.assert.match(problem.detail, UNTRUSTED)
  }
})

test('the token endpoint gets the same tls settings, and a sane detail when they are missing', async (t: TestContext) => {
  t.plan(5)
  const origin = await startHttpsOrigin(t, { key: pki.serverKey, cert: pki.serverCert })
  const auth = { type: 'oauth2_client_credentials', tokenUrl: `${origin.url()}/token`, clientId: 'id', clientSecret: 'tls-ca-client-secret' }
  const { url } = await startEgressSidecar(t, {
    upstreams: {
      trusted: { target: origin.url(), tls: { ca: pki.ca }, auth },
      untrusted: { target: origin.url(), auth }
    }
  })
  const ok = await fetch(`${url}/trusted/x`)
  t.assert.strictEqual(ok.status, 200)
  t.assert.strictEqual(((await ok.json()) as { authorization: string }).authorization, `Bearer ${ORIGIN_TOKEN}`)
  const res = await fetch(`${url}/untrusted/x`)
  t.assert.strictEqual(res.status, 502)
  const problem = await res.json() as Problem
  t.assert.strictEqual(problem.code, 'TG_TOKEN_FETCH_FAILED')
  t.assert.match(problem.detail, /^the token endpoint failed: TLS: .*\((UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN)\)$/)
})

test('a certificate that does not name the host is a 502 saying so, also through a tunnel', async (t: TestContext) => {
  t.plan(3)
  const origin = await startHttpsOrigin(t, { key: pki.serverKey, cert: pki.serverCert })
  const proxy = await startConnectProxy(t)
  // The proxy resolves every name to 127.0.0.1; the certificate names vendor.example, localhost and 127.0.0.1 only.
  const { url } = await startEgressSidecar(t, {
    upstreams: { vendor: { target: origin.url('impostor.example'), proxy: proxy.url, tls: { ca: pki.ca } } }
  })
  const res = await fetch(`${url}/vendor/x`)
  t.assert.strictEqual(res.status, 502)
  t.assert.strictEqual((await res.json() as Problem).detail, 'the upstream could not be reached: TLS: certificate does not name the host (ERR_TLS_CERT_ALTNAME_INVALID)')
  t.assert.strictEqual(origin.requests.length, 0)
})

test('tls.ca adds to the default trust: NODE_EXTRA_CA_CERTS still counts', async (t: TestContext) => {
  t.plan(2)
  // createSecureContext drops Node's default trust when `ca` is given; dispatcher.ts passes it along.
  const origin = await startHttpsOrigin(t, { key: pki.serverKey, cert: pki.serverCert })
  const upstreams = { vendor: { target: origin.url(), tls: { ca: pki.otherCa } } }
  const withExtra = await startEgressSidecar(t, { upstreams }, { NODE_EXTRA_CA_CERTS: pki.caFile })
  t.assert.strictEqual((await fetch(`${withExtra.url}/vendor/x`)).status, 200)
  const without = await startEgressSidecar(t, { upstreams })
  t.assert.strictEqual((await fetch(`${without.url}/vendor/x`)).status, 502)
})
