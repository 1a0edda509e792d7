// `tollgate doctor` against the sandbox vendors with good credentials: every
// step passes, the token line tells lifetime, scope, audience and JWT claims
// without the token, and the shared store is never touched (issue 15).
import { createServer, type AddressInfo, type Socket } from 'node:net'
import { test, type TestContext } from 'node:test'
import { sandboxUpstreams } from '../../src/sandbox/sandbox-upstreams.js'
import { startSandbox, type RunningSandbox } from '../../src/sandbox/server.js'
import { assertNoLeaks, doctor, statuses, stepOf } from '../helpers/doctor.js'

async function sandbox (t: TestContext): Promise<RunningSandbox> {
  const running = await startSandbox()
  t.after(() => running.close())
  return running
}

test('halaxy in the sandbox with the right secret: dns, tcp, token, clock and probe all pass', async (t: TestContext) => {
  const vendors = await sandbox(t)
  const halaxy = { ...sandboxUpstreams(vendors).halaxy, probe: '/Patient?_count=1' }
  const report = await doctor({ upstreams: { halaxy } })

  t.assert.deepStrictEqual(statuses(report, 'halaxy'), ['dns ok', 'tcp ok', 'token ok', 'clock ok', 'probe ok'])
  t.assert.strictEqual(report.failed, false)
  t.assert.match(stepOf(report, 'halaxy', 'dns').detail, /^127\.0\.0\.1 is an IP address/)
  t.assert.match(stepOf(report, 'halaxy', 'tcp').detail, /^127\.0\.0\.1:\d+ connected in \d+ ms$/)
  // Halaxy's 15 minutes; an opaque token has no claims to show.
  t.assert.match(stepOf(report, 'halaxy', 'token').detail, /^expires in 900 s, an opaque token \(no JWT claims\); fetched in \d+ ms$/)
  t.assert.match(stepOf(report, 'halaxy', 'clock').detail, /^offset [+-]\d+\.\d s \(±\d+\.\d s\) vs the token endpoint's Date$/)
  t.assert.match(stepOf(report, 'halaxy', 'probe').detail, /^GET http:\/\/127\.0\.0\.1:\d+\/halaxy\/main\/Patient\?_count=1 → 200 in \d+ ms$/)
  // One line per step, aligned, and the summary last.
  t.assert.match(report.lines[0] ?? '', /^halaxy {2}dns {4}ok {4}127\.0\.0\.1/)
  t.assert.strictEqual(report.lines.at(-1), '1 upstream: 5 ok')
  // The sandbox saw one token request and one authenticated API call: the probe used the fetched token.
  t.assert.strictEqual(vendors.stats().halaxy.tokensIssued, 1)
  assertNoLeaks(t, report.lines.join('\n'), [vendors.credentials.halaxy.clientSecret])
})

test('the token line shows scope, audience and a JWT\'s claims, never the token', async (t: TestContext) => {
  const vendors = await sandbox(t)
  const upstreams = sandboxUpstreams(vendors)
  const report = await doctor({ upstreams: { healthhero: upstreams.healthhero, photon: upstreams.photon } })

  t.assert.strictEqual(report.failed, false)
  // HealthHero issues JWTs: their claims are shown, the token (which the leak scan would see) is not.
  t.assert.match(stepOf(report, 'healthhero', 'token').detail, /^expires in 3600 s, JWT \(HS256\) iss "http:\/\/127\.0\.0\.1:\d+\/healthhero\/identity", sub "healthhero-client", client_id "healthhero-client", aud "http:\/\/127\.0\.0\.1:\d+\/healthhero", exp \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ; fetched in \d+ ms$/)
  // Photon: the granted scope from the answer and the audience the preset asks for.
  t.assert.match(stepOf(report, 'photon', 'token').detail, /^expires in 86400 s, scope "read:patient [^"]+", audience "https:\/\/api\.photon\.health" requested, an opaque token/)
  // No probe configured: said so, and how to set one.
  t.assert.deepStrictEqual(stepOf(report, 'photon', 'probe'), { upstream: 'photon', step: 'probe', status: 'skip', detail: 'not configured (set upstreams.photon.probe, e.g. /Patient?_count=1)' })
  assertNoLeaks(t, report.lines.join('\n'), [vendors.credentials.healthhero.clientSecret, vendors.credentials.photon.clientSecret])
})

test('the doctor never reads or writes the shared store, even with store.type redis configured', async (t: TestContext) => {
  const vendors = await sandbox(t)
  // A "Redis" that counts connections: the doctor must make none.
  const connections: Socket[] = []
  const redis = createServer((socket) => { connections.push(socket); socket.destroy() })
  await new Promise<void>((resolve) => redis.listen(0, '127.0.0.1', resolve))
  t.after(() => new Promise<void>((resolve) => redis.close(() => resolve())))
  const report = await doctor({
    store: { type: 'redis', url: `redis://127.0.0.1:${(redis.address() as AddressInfo).port}` },
    upstreams: { halaxy: { ...sandboxUpstreams(vendors).halaxy, probe: '/Patient' } }
  })
  t.assert.strictEqual(report.failed, false)
  t.assert.strictEqual(connections.length, 0)
})
