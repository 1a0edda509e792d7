// `tollgate doctor` when a host cannot be reached: a closed port on
// 127.0.0.1 fails the tcp step and every step after it is shown skipped; a
// token endpoint on another origin is checked on its own, so the line says
// which of the two is down (issue 15).
import { test, type TestContext } from 'node:test'
import { doctor, statuses, stepOf } from '../helpers/doctor.js'
import { startOrigin } from '../helpers/origin.js'
import { startTokenEndpoint, tokenReply } from '../helpers/token-endpoint.js'
import { freePort } from '../helpers/ports.js'

function oauth (tokenUrl: string): Record<string, unknown> {
  return { type: 'oauth2_client_credentials', tokenUrl, clientId: 'doctor-client', clientSecret: 'doctor-client-secret' }
}

test('a closed port: tcp fails with connection refused, and token, clock and probe are skipped', async (t: TestContext) => {
  const port = await freePort()
  const target = `http://127.0.0.1:${port}`
  const report = await doctor({ upstreams: { down: { target, probe: '/Patient', auth: oauth(`${target}/token`) } } })

  t.assert.deepStrictEqual(statuses(report, 'down'), ['dns ok', 'tcp fail', 'token skip', 'clock skip', 'probe skip'])
  t.assert.strictEqual(stepOf(report, 'down', 'tcp').detail, `127.0.0.1:${port}: connection refused: nothing listens there, or a firewall rejects it (ECONNREFUSED)`)
  t.assert.strictEqual(stepOf(report, 'down', 'token').detail, 'the token endpoint cannot be reached')
  t.assert.strictEqual(stepOf(report, 'down', 'probe').detail, 'the target cannot be reached')
  t.assert.match(report.lines[1] ?? '', /^down {2}tcp {4}FAIL {2}127\.0\.0\.1:\d+: connection refused/)
  t.assert.strictEqual(report.failed, true)
})

test('the target is up, its token endpoint on another origin is not: both are checked, the token skipped', async (t: TestContext) => {
  const origin = await startOrigin(t)
  const port = await freePort()
  const report = await doctor({ upstreams: { split: { target: origin.url, probe: '/Patient', auth: oauth(`http://127.0.0.1:${port}/oauth/token`) } } })

  // The target's dns and tcp, then the token endpoint's.
  t.assert.deepStrictEqual(statuses(report, 'split'), ['dns ok', 'tcp ok', 'dns ok', 'tcp fail', 'token skip', 'clock skip', 'probe skip'])
  const tcp = report.steps.filter((s) => s.step === 'tcp').map((s) => s.detail)
  t.assert.match(tcp[0] ?? '', new RegExp(`^127\\.0\\.0\\.1:${new URL(origin.url).port} connected`))
  t.assert.match(tcp[1] ?? '', new RegExp(`^127\\.0\\.0\\.1:${port}: connection refused`))
  t.assert.strictEqual(stepOf(report, 'split', 'probe').detail, 'no token')
})

test('the token endpoint on another origin, both up: both are checked and everything passes, as the sidecar sends it', async (t: TestContext) => {
  const origin = await startOrigin(t)
  const tokens = await startTokenEndpoint(t, () => tokenReply('split-origin-token-0c4d', 600))
  const userAgent = 'Acme Clinic Sync (dev@acme.example)'
  const report = await doctor({ upstreams: { split: { target: origin.url, probe: '/Patient', headers: { 'User-Agent': userAgent }, auth: oauth(tokens.url) } } })
  t.assert.deepStrictEqual(statuses(report, 'split'), ['dns ok', 'tcp ok', 'dns ok', 'tcp ok', 'token ok', 'clock ok', 'probe ok'])
  t.assert.strictEqual(tokens.requests.length, 1)
  // The upstream's User-Agent on the token request and the probe, as the sidecar sends them.
  t.assert.strictEqual(tokens.requests[0]?.headers['user-agent'], userAgent)
  t.assert.strictEqual(origin.requests[0]?.headers['user-agent'], userAgent)
  t.assert.strictEqual(origin.requests[0]?.headers.authorization, 'Bearer split-origin-token-0c4d')
  t.assert.ok(!report.lines.join('\n').includes('split-origin-token-0c4d'))
})
