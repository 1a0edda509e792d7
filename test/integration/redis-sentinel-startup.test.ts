/**
 * store.sentinels at startup (issue 17 part 2): no sentinel answering, and
 * sentinels that refuse the sentinel password, stop a `fail` sidecar before
 * it listens, with a line that says why (never the password); store.tls
 * applies to the sentinels and the primary they name alike.
 */
import { test, type TestContext } from 'node:test'
import { formatIssues } from '../../src/config/issues.js'
import { resolveConfig } from '../../src/config/load.js'
import { buildServer } from '../../src/server.js'
import { startOrigin } from '../helpers/origin.js'
import { createPki } from '../helpers/pki.js'
import { freePort, waitFor, windowUnits } from '../helpers/redis-server.js'
import { startSentinelSet, startTlsSentinel } from '../helpers/redis-topology.js'
import { startSidecar } from '../helpers/sidecar.js'

async function refused (t: TestContext, store: Record<string, unknown>, check: (message: string) => void): Promise<void> {
  const result = resolveConfig({ log: { level: 'silent' }, store: { type: 'redis', onUnavailable: 'fail', ...store }, upstreams: { vendor: { target: 'http://127.0.0.1:9' } } }, { env: {} })
  if (result.issues !== undefined) throw new Error(formatIssues(result.issues))
  await t.assert.rejects(buildServer(result.config), (err: Error & { code?: string }) => {
    t.assert.strictEqual(err.code, 'TG_STORE_UNAVAILABLE')
    check(err.message)
    return true
  })
}

test('no sentinel answers: fail stops startup, naming the sentinels and why', async (t: TestContext) => {
  const ports = await Promise.all([freePort(), freePort()])
  const sentinels = ports.map((port) => `127.0.0.1:${port}`)
  await refused(t, { sentinels, name: 'mymaster' }, (message) => {
    t.assert.match(message, new RegExp(`cannot reach Redis at sentinel mymaster via ${sentinels.join(', ').replaceAll('.', '\\.')} \\(All sentinels are unreachable\\. [^)]+\\) and store\\.onUnavailable is fail; start Redis or set store\\.onUnavailable: local$`))
  })
})

test('sentinels that refuse store.sentinelPassword: fail stops startup naming it, never showing it', async (t: TestContext) => {
  const set = await startSentinelSet(t, { password: 'startup-data-password-2c', sentinelPassword: 'startup-sentinel-password-8f' })
  if (set === undefined) return
  const wrong = 'startup-wrong-sentinel-password-41'
  await refused(t, { sentinels: set.sentinels, name: set.name, password: 'startup-data-password-2c', sentinelPassword: wrong }, (message) => {
    t.assert.match(message, /\(store\.sentinelUsername \/ store\.sentinelPassword: a sentinel refused them \(All sentinels are unreachable\..*WRONGPASS.*\)\) and store\.onUnavailable is fail; fix store\.sentinelUsername \/ store\.sentinelPassword or set store\.onUnavailable: local$/)
    t.assert.ok(!message.includes(wrong) && !message.includes('startup-data-password-2c'), 'a password is in the error')
  })
})

test('store.tls reaches a TLS-only sentinel and the TLS-only primary it names', async (t: TestContext) => {
  const pki = createPki()
  t.after(() => pki.remove())
  const sentinel = await startTlsSentinel(t, pki)
  if (sentinel === undefined) return
  const origin = await startOrigin(t)
  const sidecar = await startSidecar(t, {
    store: { type: 'redis', sentinels: sentinel.sentinels, name: sentinel.name, tls: { ca: pki.ca }, keyPrefix: 'sentinel-tls:', onUnavailable: 'fail' },
    upstreams: { vendor: { target: origin.url, rateLimit: { requests: 10, window: '30s' } } }
  })
  const res = await fetch(`${sidecar.url}/vendor/over-tls`)
  await res.arrayBuffer()
  t.assert.strictEqual(res.status, 200)
  await waitFor('the start in the TLS primary', async () => await windowUnits(sentinel.primary.client, 'sentinel-tls:', 'vendor', 'starts') === 1, 2000)
})
