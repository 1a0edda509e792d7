// `tollgate doctor`'s dns step through an injected lookup backed by a fake
// DNS server on loopback: `vendor.test` (RFC 6761, never resolvable for
// real) maps to 127.0.0.1, so the whole run (tcp, the token request, the
// probe) reaches the sandbox by that name; a name the server does not know
// fails the dns step and skips the rest (issue 15).
import { test, type TestContext } from 'node:test'
import { sandboxUpstreams } from '../../src/sandbox/sandbox-upstreams.js'
import { startSandbox } from '../../src/sandbox/server.js'
import { lookupVia, startDnsServer } from '../helpers/dns-server.js'
import { assertNoLeaks, doctor, statuses, stepOf } from '../helpers/doctor.js'

test('vendor.test → 127.0.0.1 through the injected lookup: every step reaches the sandbox by that name', async (t: TestContext) => {
  const vendors = await startSandbox()
  t.after(() => vendors.close())
  const dns = await startDnsServer(t, { 'vendor.test': '127.0.0.1' })
  const byName = (url: string): string => url.replace('127.0.0.1', 'vendor.test')
  const halaxy = sandboxUpstreams(vendors).halaxy as Record<string, unknown> & { target: string, auth: Record<string, unknown> & { tokenUrl: string } }
  const report = await doctor({
    upstreams: { halaxy: { ...halaxy, target: byName(halaxy.target), probe: '/Patient?_count=1', auth: { ...halaxy.auth, tokenUrl: byName(halaxy.auth.tokenUrl) } } }
  }, { lookup: lookupVia(dns) })

  t.assert.match(stepOf(report, 'halaxy', 'dns').detail, /^vendor\.test → 127\.0\.0\.1 \(\d+ ms\)$/)
  t.assert.match(stepOf(report, 'halaxy', 'tcp').detail, /^127\.0\.0\.1:\d+ connected in \d+ ms$/)
  // Plain http to a name that is not loopback: the token would cross the network readable; a warning, not a failure.
  t.assert.match(stepOf(report, 'halaxy', 'tls').detail, /^vendor\.test:\d+: plain http:\/\/, no TLS: the bearer token crosses the network/)
  t.assert.deepStrictEqual(statuses(report, 'halaxy'), ['dns ok', 'tcp ok', 'tls warn', 'token ok', 'clock ok', 'probe ok'])
  t.assert.match(stepOf(report, 'halaxy', 'probe').detail, /^GET http:\/\/vendor\.test:\d+\/halaxy\/main\/Patient\?_count=1 → 200/)
  t.assert.strictEqual(report.failed, false)
  // The dns step, the token request and the probe all asked the fake server (connections resolve the name anew).
  t.assert.ok(dns.queries.filter((name) => name === 'vendor.test').length >= 3, `queries: ${dns.queries.join(', ')}`)
  t.assert.ok(dns.queries.every((name) => name === 'vendor.test'))
  assertNoLeaks(t, report.lines.join('\n'), [vendors.credentials.halaxy.clientSecret])
})

test('a name the DNS server does not know: the dns step fails (ENOTFOUND) with a proxy hint, the rest is skipped', async (t: TestContext) => {
  const dns = await startDnsServer(t, { 'vendor.test': '127.0.0.1' })
  const report = await doctor({
    upstreams: {
      gone: {
        target: 'https://gone.test/api',
        probe: '/Patient',
        auth: { type: 'oauth2_client_credentials', tokenUrl: 'https://gone.test/oauth/token', clientId: 'c', clientSecret: 'dns-client-secret' }
      }
    }
  }, { lookup: lookupVia(dns) })

  t.assert.deepStrictEqual(statuses(report, 'gone'), ['dns fail', 'tcp skip', 'tls skip', 'token skip', 'clock skip', 'probe skip'])
  t.assert.strictEqual(stepOf(report, 'gone', 'dns').detail, 'gone.test: no such host (ENOTFOUND); behind a corporate proxy? set HTTPS_PROXY or upstreams.gone.proxy')
  t.assert.strictEqual(stepOf(report, 'gone', 'tcp').detail, 'the dns step failed')
  t.assert.deepStrictEqual(dns.queries, ['gone.test'])
  t.assert.strictEqual(report.failed, true)
})
