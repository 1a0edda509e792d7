/* eslint-disable no-template-curly-in-string -- ${VAR} is the config syntax under test */
/**
 * An invalid config is rejected whole (issue 19 parts 1 and 4): nothing of
 * it applies, the running config keeps serving, and every problem is logged
 * and shown in /status with its field path, never a value. The next good
 * file applies.
 */
import { writeFileSync } from 'node:fs'
import { test, type TestContext } from 'node:test'
import { startReloader } from '../../src/ops/reload.js'
import { fixtureDir } from '../helpers/fixtures.js'
import { startOrigin } from '../helpers/origin.js'
import { configReadings, listenFromFile } from '../helpers/reload.js'

const SECRET = 'rejected-reload-static-token'

test('an invalid config is rejected whole: the old one keeps serving, every problem is named by its path, nothing of it applies', { timeout: 30_000 }, async (t: TestContext) => {
  const origin = await startOrigin(t, (req, res) => { req.resume(); res.end(`${req.headers.authorization ?? ''} ${req.headers['x-version'] ?? '-'}`) })
  const dir = fixtureDir(t)
  const good = (version: string): string => `log: { level: info }\nupstreams:\n  vendor:\n    target: ${origin.url}\n    headers: { X-Version: "${version}" }\n    auth: { type: static_bearer, token: ${SECRET} }\n`
  const file = dir.write('tollgate.yaml', good('1'))
  const { sidecar, url, loaded, logs } = await listenFromFile(t, file)
  // SIGHUP's path: the folder watch is there too, but this test drives the reload itself.
  const reloader = startReloader({ sidecar, file, fileConfig: loaded.config, files: loaded.files, flags: {}, env: {}, debounceMs: 60_000 })
  t.after(() => reloader.stop())
  const before = await configReadings(url)

  // Valid parts (a new header, a new upstream) next to four problems: none of it may apply.
  writeFileSync(file, [
    'log: { level: debug }',
    'server: { shutdownGrace: forever, colour: blue }',
    'upstreams:',
    '  vendor:',
    `    target: ${origin.url}`,
    '    headers: { X-Version: "2" }',
    '    auth: { type: static_bearer, token: "${REJECTED_RELOAD_UNSET}" }',
    '  added:',
    `    target: ${origin.url}`,
    '    rateLimit: { requests: -1, window: 1m }',
    ''
  ].join('\n'))
  const report = await reloader.reload('SIGHUP')
  t.assert.strictEqual(report.result, 'rejected')
  const paths = report.problems.map((problem) => problem.path).sort()
  t.assert.deepStrictEqual(paths, ['server.colour', 'server.shutdownGrace', 'upstreams.added.rateLimit.requests', 'upstreams.vendor.auth.token'])

  const res = await fetch(`${url}/vendor/x`)
  t.assert.deepStrictEqual([res.status, await res.text()], [200, `Bearer ${SECRET} 1`], 'the old config serves, its header and token')
  t.assert.strictEqual((await fetch(`${url}/added/x`)).status, 404, 'the new upstream was not added')
  t.assert.strictEqual(sidecar.logger.level, 'info', 'log.level not applied')

  const after = await configReadings(url)
  t.assert.deepStrictEqual([after.generation, after.sha256], [before.generation, before.sha256], 'the same config runs')
  t.assert.strictEqual(after.lastReload?.result, 'rejected')
  t.assert.deepStrictEqual(after.lastReload?.problems.map((problem) => problem.path).sort(), paths)
  t.assert.deepStrictEqual(after.reloads, { applied: 0, partial: 0, rejected: 1 })
  const line = logs.entries().find((entry) => entry.msg === 'config reload rejected: the running config keeps serving')
  t.assert.strictEqual(line?.level, 40)
  t.assert.strictEqual(line?.reason, 'SIGHUP')
  t.assert.deepStrictEqual((line?.problems as Array<{ path: string }>).map((problem) => problem.path).sort(), paths, 'every problem in the log line, by path')

  // Fixed: the next reload applies.
  writeFileSync(file, good('3'))
  t.assert.strictEqual((await reloader.reload('SIGHUP')).result, 'applied')
  const fixed = await fetch(`${url}/vendor/x`)
  t.assert.strictEqual(await fixed.text(), `Bearer ${SECRET} 3`)
  t.assert.ok(!logs.text().includes(SECRET), 'the token reached the log')
  t.assert.ok(!logs.text().includes('forever') && !logs.text().includes('blue'), 'a rejected value was quoted')
})
