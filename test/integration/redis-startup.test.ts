/**
 * store.type: redis with Redis down at startup: `onUnavailable: fail` stops
 * the sidecar before it listens (exit 1, a clear line); `local` starts on
 * per-process state with a loud warning and joins the shared state as soon
 * as Redis appears.
 */
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { formatIssues } from '../../src/config/issues.js'
import { loadConfigFile, resolveConfig } from '../../src/config/load.js'
import { buildServer } from '../../src/server.js'
import { REPO_ROOT, runCli } from '../helpers/cli-process.js'
import { fixtureDir } from '../helpers/fixtures.js'
import { startOrigin } from '../helpers/origin.js'
import { freePort, redisServerBinary, startRedis, waitFor, windowUnits } from '../helpers/redis-server.js'
import { startSidecar } from '../helpers/sidecar.js'

const SKIP = redisServerBinary() === undefined ? 'redis-server not found: install it (apt-get install redis-server) to run the Redis tests' : false

test('onUnavailable: fail and no Redis: buildServer rejects with TG_STORE_UNAVAILABLE, naming the way out', async (t: TestContext) => {
  const port = await freePort()
  const result = resolveConfig({
    log: { level: 'silent' },
    store: { type: 'redis', url: `redis://127.0.0.1:${port}`, onUnavailable: 'fail' },
    upstreams: { vendor: { target: 'http://127.0.0.1:9' } }
  }, { env: {} })
  if (result.issues !== undefined) throw new Error(formatIssues(result.issues))
  await t.assert.rejects(buildServer(result.config), (err: Error & { code?: string, statusCode?: number }) => {
    t.assert.strictEqual(err.code, 'TG_STORE_UNAVAILABLE')
    t.assert.match(err.message, new RegExp(`cannot reach Redis at redis://127\\.0\\.0\\.1:${port} \\(connect ECONNREFUSED [^)]+\\) and store\\.onUnavailable is fail`))
    t.assert.match(err.message, /store\.onUnavailable: local/)
    return true
  })
})

test('the CLI with onUnavailable: fail and no Redis exits 1 before listening, with one clear line', async (t: TestContext) => {
  const port = await freePort()
  const dir = fixtureDir(t)
  const file = dir.write('tollgate.yaml', [
    'server: { port: 0 }',
    'store:',
    '  type: redis',
    `  url: redis://:store-password-31@127.0.0.1:${port}`,
    '  onUnavailable: fail',
    'upstreams:',
    '  vendor: { target: "http://127.0.0.1:9" }',
    ''
  ].join('\n'))
  const { code, stdout, stderr } = await runCli(t, ['--config', file])
  t.assert.strictEqual(code, 1)
  t.assert.match(stderr, /TG_STORE_UNAVAILABLE.*cannot reach Redis at redis:\/\/127\.0\.0\.1:\d+ \(connect ECONNREFUSED [^)]+\) and store\.onUnavailable is fail/)
  t.assert.ok(!/\n\s+at /.test(stderr), `a stack trace for an operator's problem:\n${stderr}`)
  t.assert.ok(!/listening/i.test(stdout), 'it listened')
  t.assert.ok(!(stdout + stderr).includes('store-password-31'), 'the Redis password was printed')
})

test('onUnavailable: local and no Redis: starts with a loud warning, answers (with store.fallbackReplicas), and shares state once Redis appears', { skip: SKIP }, async (t: TestContext) => {
  const port = await freePort()
  const origin = await startOrigin(t)
  const sidecar = await startSidecar(t, {
    // Never having seen the replica set, it may start rate-limited requests only with fallbackReplicas (issue 17).
    store: { type: 'redis', url: `redis://127.0.0.1:${port}`, keyPrefix: 'startup-test:', fallbackReplicas: 1 },
    upstreams: { vendor: { target: origin.url, rateLimit: { requests: 10, window: '30s' } } }
  })
  const warning = sidecar.logs.entries().find((entry) => String(entry.msg).startsWith('SHARED STORE UNAVAILABLE AT STARTUP'))
  t.assert.strictEqual(warning?.level, 40)
  t.assert.strictEqual((await fetch(`${sidecar.url}/vendor/alone`)).status, 200)

  const redis = await startRedis(t, { port })
  if (redis === undefined) return
  await waitFor('the sidecar to connect', () => sidecar.logs.text().includes('shared store available again'), 5000)
  t.assert.strictEqual((await fetch(`${sidecar.url}/vendor/shared`)).status, 200)
  // The start made alone was written back; the one made since went through Redis.
  await waitFor('both starts in the shared window', async () => await windowUnits(redis.client, 'startup-test:', 'vendor', 'starts') === 2, 2000)
})

test('the compose scale profile\'s config (deploy/compose/scale.yaml) is valid and uses the shared store', (t: TestContext) => {
  const result = loadConfigFile(join(REPO_ROOT, 'deploy/compose/scale.yaml'), { SAMPLE_TOKEN: 'compose-sample-token-6b21' })
  t.assert.deepStrictEqual(result.issues, undefined)
  t.assert.deepStrictEqual({ type: result.config?.store.type, url: result.config?.store.url }, { type: 'redis', url: 'redis://redis:6379' })
})

test('store.redis passes ioredis options through, and its secret-looking values join the log censor', (t: TestContext) => {
  const result = resolveConfig({
    store: { type: 'redis', url: 'rediss://:url-password-8c@127.0.0.1:6379', redis: { connectTimeout: 5000, connectionName: 'mymaster', sentinelPassword: 'sentinel-password-5e', tls: { key: 'tls-key-pem-9a', ca: 'public-ca' } } },
    upstreams: { vendor: { target: 'http://127.0.0.1:9' } }
  }, { env: {} })
  t.assert.deepStrictEqual(result.config?.store.redis, { connectTimeout: 5000, connectionName: 'mymaster', sentinelPassword: 'sentinel-password-5e', tls: { key: 'tls-key-pem-9a', ca: 'public-ca' } })
  const secrets = result.config?.secrets ?? []
  for (const secret of ['url-password-8c', 'sentinel-password-5e', 'tls-key-pem-9a']) t.assert.ok(secrets.includes(secret), `${secret} is not censored`)
  t.assert.ok(!secrets.includes('public-ca') && !secrets.includes('mymaster'))
})
