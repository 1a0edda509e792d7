// `tollgate doctor` behind a forward proxy (the loopback CONNECT proxy of
// test/helpers, which resolves every name to 127.0.0.1): dns and tcp are the
// proxy's, the proxy step opens the CONNECT tunnel the sidecar would, tls
// runs inside it; a proxy that wants other credentials fails the proxy step
// with its 407. NO_PROXY is matched as undici matches it (issue 15).
import { after, test, type TestContext } from 'node:test'
import { bypassed } from '../../src/doctor/proxy-route.js'
import { startConnectProxy } from '../helpers/connect-proxy.js'
import { assertNoLeaks, doctor, statuses, stepOf } from '../helpers/doctor.js'
import { startHttpsOrigin } from '../helpers/https-origin.js'
import { createPki, VENDOR_HOST } from '../helpers/pki.js'

const pki = createPki()
after(() => pki.remove())

function vendor (target: string, proxy: string): Record<string, unknown> {
  return {
    target,
    proxy,
    probe: '/Patient',
    tls: { ca: pki.ca },
    auth: { type: 'oauth2_client_credentials', tokenUrl: `${target}/token`, clientId: 'proxy-client', clientSecret: 'proxy-client-secret' }
  }
}

test('through the upstream\'s proxy: dns and tcp reach the proxy, CONNECT opens the tunnel, tls runs inside it', async (t: TestContext) => {
  const origin = await startHttpsOrigin(t, { key: pki.serverKey, cert: pki.serverCert })
  const proxy = await startConnectProxy(t, { credentials: 'proxy-user:proxy-pass-3d9f' })
  const target = origin.url(VENDOR_HOST)
  const report = await doctor({ upstreams: { vendor: vendor(target, proxy.urlWithCredentials) } })

  t.assert.deepStrictEqual(statuses(report, 'vendor'), ['dns ok', 'tcp ok', 'proxy ok', 'tls ok', 'token ok', 'clock ok', 'probe ok'])
  t.assert.match(stepOf(report, 'vendor', 'dns').detail, /^127\.0\.0\.1 is an IP address \(no lookup\); the proxy \(from upstreams\.vendor\.proxy\) resolves vendor\.example$/)
  t.assert.match(stepOf(report, 'vendor', 'proxy').detail, new RegExp(`^CONNECT vendor\\.example:${origin.port} through http://127\\.0\\.0\\.1:\\d+ \\(from upstreams\\.vendor\\.proxy\\): 200 in \\d+ ms$`))
  t.assert.match(stepOf(report, 'vendor', 'tls').detail, /^vendor\.example:\d+: TLSv1\.3, certificate for vendor\.example/)
  // The doctor's own tunnel, then the token request's and the probe's, all with the proxy credentials.
  t.assert.deepStrictEqual(proxy.requests.map((r) => `${r.method} ${r.target} ${r.allowed}`), Array(3).fill(`CONNECT ${VENDOR_HOST}:${origin.port} true`))
  // Neither the proxy password nor the Proxy-Authorization value built from it is printed.
  assertNoLeaks(t, report.lines.join('\n'), ['proxy-pass-3d9f', Buffer.from('proxy-user:proxy-pass-3d9f').toString('base64')])
})

test('a proxy that refuses the credentials: the proxy step fails with its 407 and names the key; tls, token and probe are skipped', async (t: TestContext) => {
  const origin = await startHttpsOrigin(t, { key: pki.serverKey, cert: pki.serverCert })
  const proxy = await startConnectProxy(t, { credentials: 'proxy-user:proxy-pass-3d9f' })
  const wrong = proxy.url.replace('http://', 'http://proxy-user:wrong-pass-71aa@')
  const report = await doctor({ upstreams: { vendor: vendor(origin.url(VENDOR_HOST), wrong) } })

  t.assert.deepStrictEqual(statuses(report, 'vendor'), ['dns ok', 'tcp ok', 'proxy fail', 'tls skip', 'token skip', 'clock skip', 'probe skip'])
  t.assert.match(stepOf(report, 'vendor', 'proxy').detail, /: 407: the proxy wants credentials, or refused them \(user:password in upstreams\.vendor\.proxy\)$/)
  t.assert.strictEqual(origin.requests.length, 0)
  assertNoLeaks(t, report.lines.join('\n'), ['wrong-pass-71aa'])
})

test('HTTPS_PROXY from the environment is named as the source; NO_PROXY entries match as undici matches them', async (t: TestContext) => {
  const origin = await startHttpsOrigin(t, { key: pki.serverKey, cert: pki.serverCert })
  const proxy = await startConnectProxy(t)
  const target = origin.url(VENDOR_HOST)
  const { proxy: _configured, ...fromEnv } = vendor(target, '')
  const report = await doctor({ upstreams: { vendor: fromEnv } }, { env: { HTTPS_PROXY: proxy.url, NO_PROXY: 'other.example' } })
  t.assert.match(stepOf(report, 'vendor', 'proxy').detail, /\(from HTTPS_PROXY\): 200/)
  t.assert.strictEqual(report.failed, false)

  const url = new URL('https://api.vendor.example:8443/x')
  t.assert.strictEqual(bypassed(url, 'vendor.example'), true)
  t.assert.strictEqual(bypassed(url, '.vendor.example,localhost'), true)
  t.assert.strictEqual(bypassed(url, '*.vendor.example'), true)
  t.assert.strictEqual(bypassed(url, 'vendor.example:443'), false)
  t.assert.strictEqual(bypassed(url, 'vendor.example:8443'), true)
  t.assert.strictEqual(bypassed(url, 'example.org other.vendor.example'), false)
  t.assert.strictEqual(bypassed(new URL('https://xvendor.example/'), 'vendor.example'), false)
})
