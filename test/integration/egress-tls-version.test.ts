/** `tls.minVersion`: a server that cannot speak it is a 502 naming the version mismatch. */
import { after, test, type TestContext } from 'node:test'
import { startEgressSidecar, type Problem } from '../helpers/egress-sidecar.js'
import { startHttpsOrigin } from '../helpers/https-origin.js'
import { createPki } from '../helpers/pki.js'

const pki = createPki()
after(() => pki.remove())

test('minVersion TLSv1.3 against a server that stops at TLS 1.2: 502; TLSv1.2 works', async (t: TestContext) => {
  t.plan(4)
  const origin = await startHttpsOrigin(t, { key: pki.serverKey, cert: pki.serverCert, maxVersion: 'TLSv1.2' })
  const { url } = await startEgressSidecar(t, {
    upstreams: {
      strict: { target: origin.url(), tls: { ca: pki.ca, minVersion: 'TLSv1.3' } },
      lenient: { target: origin.url(), tls: { ca: pki.ca, minVersion: 'TLSv1.2' } }
    }
  })
  const res = await fetch(`${url}/strict/x`)
  t.assert.strictEqual(res.status, 502)
  const problem = await res.json() as Problem
  t.assert.strictEqual(problem.code, 'TG_UPSTREAM_UNREACHABLE')
  t.assert.match(problem.detail, /TLS: no TLS version in common \(tls\.minVersion\?\) \(ERR_SSL_[A-Z0-9_]+\)$/)
  t.assert.strictEqual((await fetch(`${url}/lenient/x`)).status, 200)
})
