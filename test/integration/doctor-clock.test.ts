// `tollgate doctor`'s clock step: this machine's clock against the token
// endpoint's Date header. Within 30 s it passes; beyond, it warns (signed
// assertions and token lifetimes depend on it) without failing the run; a
// refusal's Date counts too; no Date, no verdict (issue 15).
import { test, type TestContext } from 'node:test'
import { checkClock } from '../../src/doctor/clock.js'
import { doctor, stepOf } from '../helpers/doctor.js'
import { errorReply, startTokenEndpoint, tokenReply, type Reply } from '../helpers/token-endpoint.js'

/** A token endpoint whose clock runs `skewMs` from ours (its Date header says so). */
async function skewedEndpoint (t: TestContext, skewMs: number, reply: Reply = tokenReply('clock-token-91be', 600)): Promise<string> {
  const tokens = await startTokenEndpoint(t, () => ({ ...reply, headers: { date: new Date(Date.now() + skewMs).toUTCString() } }))
  return tokens.url
}

function upstream (tokenUrl: string): Record<string, unknown> {
  return { target: new URL(tokenUrl).origin, auth: { type: 'oauth2_client_credentials', tokenUrl, clientId: 'clock-client', clientSecret: 'clock-client-secret' } }
}

test('a token endpoint whose clock is 2 minutes ahead: the clock step warns, and the run still passes', async (t: TestContext) => {
  const report = await doctor({ upstreams: { skewed: upstream(await skewedEndpoint(t, 120_000)) } })
  const clock = stepOf(report, 'skewed', 'clock')
  t.assert.strictEqual(clock.status, 'warn')
  t.assert.match(clock.detail, /^offset \+1(19|20|21)\.\d s \(±\d\.\d s\) vs the token endpoint's Date: this clock is 1\d\d\.\d s behind the token endpoint's; signed assertions \(iat, exp\) and token lifetimes depend on it: sync it \(NTP\)$/)
  t.assert.strictEqual(report.failed, false)
})

test('an injected local clock 90 s fast against a correct endpoint: a warning that this clock is ahead', async (t: TestContext) => {
  const report = await doctor({ upstreams: { fast: upstream(await skewedEndpoint(t, 0)) } }, { now: () => Date.now() + 90_000 })
  t.assert.match(stepOf(report, 'fast', 'clock').detail, /^offset -(89|90|91)\.\d s .*this clock is \d+\.\d s ahead of the token endpoint's/)
})

test('the Date of a refusal is read too: a skewed clock is often why an assertion was refused', async (t: TestContext) => {
  const report = await doctor({ upstreams: { refused: upstream(await skewedEndpoint(t, -300_000, errorReply(401, 'invalid_client', 'client_assertion has expired'))) } })
  t.assert.strictEqual(stepOf(report, 'refused', 'token').status, 'fail')
  t.assert.strictEqual(stepOf(report, 'refused', 'clock').status, 'warn')
  t.assert.match(stepOf(report, 'refused', 'clock').detail, /this clock is (299|300|301)\.\d s ahead of/)
})

test('within 30 s it passes; with no Date header there is no verdict', (t: TestContext) => {
  const at = Date.parse('Mon, 07 Dec 2026 10:00:00 GMT')
  t.assert.deepStrictEqual(checkClock({ date: 'Mon, 07 Dec 2026 10:00:20 GMT', sentAt: at, receivedAt: at + 200 }), { status: 'ok', detail: 'offset +20.4 s (±0.6 s) vs the token endpoint\'s Date' })
  t.assert.strictEqual(checkClock({ date: 'Mon, 07 Dec 2026 10:00:30 GMT', sentAt: at, receivedAt: at }).status, 'ok')
  t.assert.strictEqual(checkClock({ date: 'Mon, 07 Dec 2026 10:00:31 GMT', sentAt: at, receivedAt: at }).status, 'warn')
  t.assert.deepStrictEqual(checkClock({ date: undefined, sentAt: at, receivedAt: at }), { status: 'skip', detail: 'the token endpoint sent no Date header' })
  t.assert.strictEqual(checkClock({ date: 'yesterday', sentAt: at, receivedAt: at }).status, 'skip')
})
