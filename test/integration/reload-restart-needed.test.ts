/**
 * What a reload cannot apply (issue 19 part 2): server.host, server.port,
 * server.headersTimeout and store.* (telemetry too: config-changes.test.ts)
 * keep their running value, the reload is `partial`, and the log, /status
 * and /metrics name every path that waits for a restart. What else changed
 * is applied.
 */
import { test, type TestContext } from 'node:test'
import { startOrigin } from '../helpers/origin.js'
import { configReadings, reloadTo } from '../helpers/reload.js'
import { startSidecar } from '../helpers/sidecar.js'

test('host, port, headersTimeout and store changes are reported, kept at their running value, and the rest applies', async (t: TestContext) => {
  const origin = await startOrigin(t, (req, res) => { req.resume(); res.end(String(req.headers['x-version'] ?? '-')) })
  const sidecar = await startSidecar(t, { server: { headersTimeout: '10s' }, upstreams: { vendor: { target: origin.url } } })
  const before = await configReadings(sidecar.url)
  t.assert.deepStrictEqual([before.generation, before.generationMetric, before.lastReload], [1, 1, null])
  t.assert.deepStrictEqual(before.reloads, { applied: 0, partial: 0, rejected: 0 }, 'every result is a series from startup')

  const report = await reloadTo(sidecar.sidecar, {
    server: { host: '0.0.0.0', allow: ['127.0.0.0/8'], port: 9, headersTimeout: '2s' },
    store: { keyPrefix: 'elsewhere:' },
    upstreams: { vendor: { target: origin.url, headers: { 'X-Version': '2' } } }
  })
  t.assert.strictEqual(report.result, 'partial')
  const restartNeeded = ['server.headersTimeout', 'server.host', 'server.port', 'store.keyPrefix']
  t.assert.deepStrictEqual(report.restartNeeded, restartNeeded)

  const res = await fetch(`${sidecar.url}/vendor/x`)
  t.assert.deepStrictEqual([res.status, await res.text()], [200, '2'], 'the live part applied, on the same listener')
  const { server, store } = sidecar.sidecar.config
  t.assert.deepStrictEqual([server.host, server.port, server.headersTimeoutMs, store.keyPrefix], ['127.0.0.1', 8080, 10_000, 'tollgate:'], 'the running values stay (the helper listens on port 0 itself)')
  t.assert.strictEqual(sidecar.sidecar.app.server.headersTimeout, 10_000)
  t.assert.deepStrictEqual(server.allow, ['127.0.0.0/8'], 'server.allow is live')

  const after = await configReadings(sidecar.url)
  t.assert.deepStrictEqual([after.generation, after.generationMetric], [2, 2])
  t.assert.deepStrictEqual(after.lastReload, { at: after.lastReload?.at, result: 'partial', problems: [], restartNeeded, overridden: [] })
  t.assert.ok(!Number.isNaN(Date.parse(after.lastReload?.at ?? '')))
  t.assert.deepStrictEqual(after.reloads, { applied: 0, partial: 1, rejected: 0 })
  t.assert.notStrictEqual(after.sha256, before.sha256)
  const line = sidecar.logs.entries().find((entry) => entry.msg === 'config reloaded; some changes need a restart and keep their running value')
  t.assert.deepStrictEqual([line?.level, line?.restartNeeded], [40, restartNeeded])

  // The same file again: nothing new to switch in, still reported.
  const again = await reloadTo(sidecar.sidecar, {
    server: { host: '0.0.0.0', allow: ['127.0.0.0/8'], port: 9, headersTimeout: '2s' },
    store: { keyPrefix: 'elsewhere:' },
    upstreams: { vendor: { target: origin.url, headers: { 'X-Version': '2' } } }
  })
  t.assert.deepStrictEqual([again.result, again.restartNeeded], ['partial', restartNeeded])
  t.assert.strictEqual((await configReadings(sidecar.url)).generation, 2, 'no new generation for no change')
})
