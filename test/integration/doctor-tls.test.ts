// `tollgate doctor`'s tls step against a loopback HTTPS vendor with a
// certificate from a throwaway CA: trusted through tls.ca it passes; else it
// names the CA problem and the key to set; a name the certificate does not
// carry is a hostname mismatch; insecureSkipVerify is a warning that says
// what verification would have found (issue 15).
import { after, test, type TestContext } from 'node:test'
import { startDnsServer, lookupVia } from '../helpers/dns-server.js'
import { assertNoLeaks, doctor, statuses, stepOf } from '../helpers/doctor.js'
import { ORIGIN_TOKEN, startHttpsOrigin, type HttpsOrigin } from '../helpers/https-origin.js'
import { createPki, VENDOR_HOST } from '../helpers/pki.js'

const pki = createPki()
after(() => pki.remove())

const SECRET = 'tls-client-secret-5e1b'

function vendor (origin: HttpsOrigin, host: string, tls: Record<string, unknown> | undefined): Record<string, unknown> {
  const target = origin.url(host)
  return {
    target,
    probe: '/Patient?_count=1',
    ...(tls === undefined ? {} : { tls }),
    auth: { type: 'oauth2_client_credentials', tokenUrl: `${target}/token`, clientId: 'tls-client', clientSecret: SECRET }
  }
}

async function origin (t: TestContext): Promise<HttpsOrigin> {
  return await startHttpsOrigin(t, { key: pki.serverKey, cert: pki.serverCert })
}

test('trusted through tls.ca: the tls step names the protocol, the host and the expiry; token and probe pass', async (t: TestContext) => {
  const https = await origin(t)
  const report = await doctor({ upstreams: { vendor: vendor(https, '127.0.0.1', { ca: pki.ca }) } })

  t.assert.deepStrictEqual(statuses(report, 'vendor'), ['dns ok', 'tcp ok', 'tls ok', 'token ok', 'clock ok', 'probe ok'])
  t.assert.match(stepOf(report, 'vendor', 'tls').detail, /^127\.0\.0\.1:\d+: TLSv1\.3, certificate for 127\.0\.0\.1 valid until \d{4}-\d\d-\d\d \(issuer "CN=tollgate test ca"\)$/)
  t.assert.match(stepOf(report, 'vendor', 'probe').detail, / → 200 in \d+ ms$/)
  // The probe carried the fetched token; the output does not.
  t.assert.strictEqual(https.requests.at(-1)?.authorization, `Bearer ${ORIGIN_TOKEN}`)
  assertNoLeaks(t, report.lines.join('\n'), [ORIGIN_TOKEN, SECRET])
})

test('a certificate from a CA nobody configured: the tls step says so and which key to set; the token is not fetched', async (t: TestContext) => {
  const https = await origin(t)
  const report = await doctor({ upstreams: { vendor: vendor(https, '127.0.0.1', undefined) } })

  t.assert.deepStrictEqual(statuses(report, 'vendor'), ['dns ok', 'tcp ok', 'tls fail', 'token skip', 'clock skip', 'probe skip'])
  t.assert.match(stepOf(report, 'vendor', 'tls').detail, /^127\.0\.0\.1:\d+: certificate is not signed by a trusted CA: issuer "CN=tollgate test ca" is unknown here \(or the server leaves out its intermediate certificate\); set upstreams\.vendor\.tls\.ca to that CA's certificate \(or NODE_EXTRA_CA_CERTS, for a TLS-inspecting corporate proxy\) \(UNABLE_TO_VERIFY_LEAF_SIGNATURE\)$/)
  t.assert.strictEqual(stepOf(report, 'vendor', 'token').detail, 'the token endpoint cannot be reached')
  t.assert.strictEqual(report.failed, true)
  t.assert.strictEqual(https.requests.length, 0)
})

test('tls.ca set to another CA: the tls step says the configured CA does not hold the issuer', async (t: TestContext) => {
  const https = await origin(t)
  const report = await doctor({ upstreams: { vendor: vendor(https, '127.0.0.1', { ca: pki.otherCa }) } })
  t.assert.match(stepOf(report, 'vendor', 'tls').detail, /certificate is not signed by a trusted CA: issuer "CN=tollgate test ca" is unknown here \(or the server leaves out its intermediate certificate\); upstreams\.vendor\.tls\.ca does not hold it/)
  t.assert.strictEqual(report.failed, true)
})

test('a host name the certificate does not carry: hostname mismatch, with the names it does carry', async (t: TestContext) => {
  const https = await origin(t)
  // vendor.test (RFC 6761) resolves only through the fake DNS server, to loopback.
  const dns = await startDnsServer(t, { 'vendor.test': '127.0.0.1', [VENDOR_HOST]: '127.0.0.1' })
  const report = await doctor({
    upstreams: {
      mismatch: vendor(https, 'vendor.test', { ca: pki.ca }),
      matching: vendor(https, VENDOR_HOST, { ca: pki.ca })
    }
  }, { lookup: lookupVia(dns) })

  t.assert.match(stepOf(report, 'mismatch', 'tls').detail, /^vendor\.test:\d+: hostname mismatch: the certificate is for DNS:vendor\.example, DNS:localhost, IP Address:127\.0\.0\.1, not vendor\.test \(ERR_TLS_CERT_ALTNAME_INVALID\)$/)
  t.assert.deepStrictEqual(statuses(report, 'mismatch'), ['dns ok', 'tcp ok', 'tls fail', 'token skip', 'clock skip', 'probe skip'])
  // The same server under a name it carries passes all the way, the token request resolving through the same lookup.
  t.assert.deepStrictEqual(statuses(report, 'matching'), ['dns ok', 'tcp ok', 'tls ok', 'token ok', 'clock ok', 'probe ok'])
  t.assert.match(stepOf(report, 'matching', 'tls').detail, /^vendor\.example:\d+: TLSv1\.3, certificate for vendor\.example valid until/)
})

test('insecureSkipVerify: a warning that verification is off and what it would have found', async (t: TestContext) => {
  const https = await origin(t)
  const report = await doctor({ upstreams: { vendor: vendor(https, '127.0.0.1', { insecureSkipVerify: true }) } })

  t.assert.strictEqual(stepOf(report, 'vendor', 'tls').status, 'warn')
  t.assert.match(stepOf(report, 'vendor', 'tls').detail, /certificate verification is OFF \(upstreams\.vendor\.tls\.insecureSkipVerify\); it would fail: certificate is not signed by a trusted CA/)
  // A warning passes: the sidecar would work (insecurely), and so does the rest.
  t.assert.deepStrictEqual(statuses(report, 'vendor'), ['dns ok', 'tcp ok', 'tls warn', 'token ok', 'clock ok', 'probe ok'])
  t.assert.strictEqual(report.failed, false)
})
