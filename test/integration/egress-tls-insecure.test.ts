/**
 * `tls.insecureSkipVerify: true`: the only way to turn certificate checks
 * off, per upstream, and loud: a warning naming the upstream at every start.
 */
import { after, test, type TestContext } from 'node:test'
import { startEgressSidecar } from '../helpers/egress-sidecar.js'
import { startHttpsOrigin } from '../helpers/https-origin.js'
import { createPki } from '../helpers/pki.js'

const pki = createPki()
after(() => pki.remove())

test('insecureSkipVerify reaches an untrusted upstream and its token endpoint, warns at startup, and only for that upstream', async (t: TestContext) => {
  t.plan(5)
  const origin = await startHttpsOrigin(t, { key: pki.serverKey, cert: pki.serverCert })
  const { url, logs } = await startEgressSidecar(t, {
    upstreams: {
      lab: {
        target: origin.url(),
        // A string, as `${INSECURE}` interpolation gives it.
        tls: { insecureSkipVerify: 'true' },
        auth: { type: 'oauth2_client_credentials', tokenUrl: `${origin.url()}/token`, clientId: 'id', clientSecret: 'insecure-client-secret' }
      },
      checked: { target: origin.url() }
    }
  })
  // Logged while building, before any request.
  const warnings = logs.entries().filter((entry) => entry.level === 40)
  t.assert.deepStrictEqual(warnings.map((entry) => [entry.upstream, entry.tls]), [['lab', 'insecureSkipVerify']])
  t.assert.match(String(warnings[0]?.msg), /verification is OFF/)
  t.assert.strictEqual((await fetch(`${url}/lab/x`)).status, 200)
  t.assert.deepStrictEqual(origin.requests.map((r) => r.url), ['/token', '/x'])
  t.assert.strictEqual((await fetch(`${url}/checked/x`)).status, 502)
})
