/**
 * What a reload applies at once and what waits for a restart (issue 19
 * part 2), what a flag hides (part 1), and the hash /status shows (part 3).
 */
/* eslint-disable no-template-curly-in-string -- ${VAR} is the config syntax under test */
import { test, type TestContext } from 'node:test'
import { applyOverrides } from '../../src/cli/config-source.js'
import { overriddenChanges, planReload } from '../../src/config/changes.js'
import { resolveConfig } from '../../src/config/load.js'
import type { Config } from '../../src/config/types.js'
import { configDigest } from '../../src/ops/config-state.js'

function config (raw: Record<string, unknown>, env: NodeJS.ProcessEnv = {}): { config: Config, interpolated: { paths: readonly string[], values: readonly string[] } } {
  const result = resolveConfig(raw, { env })
  if (result.issues !== undefined) throw new Error(JSON.stringify(result.issues))
  return { config: result.config, interpolated: result.interpolated }
}

const upstream = { target: 'http://127.0.0.1:9/base', rateLimit: { requests: 10, window: '1s' } }

test('live fields are taken, restart-needed ones keep the running value and are named by their file path', (t: TestContext) => {
  const current = config({ server: { port: 8080, headersTimeout: '10s' }, log: { level: 'info' }, upstreams: { a: upstream } }).config
  const next = config({
    server: { port: 9090, headersTimeout: '5s', bodyTimeout: '20s', allow: ['10.0.0.0/8'], inboundToken: 'a-long-inbound-token', bodyLimit: '1mb', shutdownGrace: '3s' },
    log: { level: 'debug', format: 'pretty' },
    store: { keyPrefix: 'other:' },
    upstreams: { a: { ...upstream, timeout: '5s' }, b: { target: 'http://127.0.0.1:9' } }
  }).config
  const plan = planReload(current, next)
  t.assert.deepStrictEqual(plan.restartNeeded, ['log.format', 'server.bodyTimeout', 'server.headersTimeout', 'server.port', 'store.keyPrefix'])
  t.assert.deepStrictEqual(plan.problems, [])
  const { server, log, store, upstreams } = plan.config
  t.assert.deepStrictEqual([server.port, server.headersTimeoutMs, server.bodyTimeoutMs, log.format, store.keyPrefix], [8080, 10_000, current.server.bodyTimeoutMs, 'json', 'tollgate:'], 'old values kept')
  t.assert.deepStrictEqual([server.allow, server.inboundToken, server.bodyLimit, server.shutdownGraceMs, log.level], [['10.0.0.0/8'], 'a-long-inbound-token', 1024 * 1024, 3000, 'debug'], 'live values taken')
  t.assert.deepStrictEqual(upstreams.map((u) => [u.name, u.timeoutMs]), [['a', 5000], ['b', 30_000]])
  t.assert.ok(plan.config.secrets.includes('a-long-inbound-token'), 'the new secret is known to the censor')
})

test('a section a reload does not rebuild (telemetry) is restart-needed, leaf by leaf', (t: TestContext) => {
  const current = { ...config({ upstreams: { a: upstream } }).config, telemetry: { endpoint: 'http://127.0.0.1:4318', serviceName: 'tollgate' } } as Config
  const next = { ...current, telemetry: { endpoint: 'http://127.0.0.1:4319', serviceName: 'tollgate' } } as Config
  const plan = planReload(current, next)
  t.assert.deepStrictEqual(plan.restartNeeded, ['telemetry.endpoint'])
  t.assert.deepStrictEqual((plan.config as unknown as { telemetry: unknown }).telemetry, { endpoint: 'http://127.0.0.1:4318', serviceName: 'tollgate' })
  const added = planReload(config({ upstreams: { a: upstream } }).config, next)
  t.assert.deepStrictEqual(added.restartNeeded, ['telemetry'], 'a section that was not there')
})

test('a shared window (Redis) keeps its size until a restart; the rest of rateLimit applies', (t: TestContext) => {
  const current = config({ upstreams: { a: upstream, b: { target: 'http://127.0.0.1:9' } } }).config
  const next = config({ upstreams: { a: { target: upstream.target, rateLimit: { requests: 20, window: '2s', maxConcurrent: 4 } }, b: { target: 'http://127.0.0.1:9', rateLimit: { requests: 5, window: '1s' } } } }).config
  const shared = planReload(current, next, { sharedWindow: true })
  t.assert.deepStrictEqual(shared.restartNeeded, ['upstreams.a.rateLimit.requests', 'upstreams.a.rateLimit.window', 'upstreams.b.rateLimit'])
  const [a, b] = shared.config.upstreams
  t.assert.deepStrictEqual([a?.rateLimit?.requests, a?.rateLimit?.windowMs, a?.rateLimit?.maxConcurrent], [10, 1000, 4])
  t.assert.strictEqual(b?.rateLimit, undefined)
  t.assert.deepStrictEqual(planReload(current, next).restartNeeded, [], 'in memory the window resizes')
})

test('a file that moves host back to loopback and drops allow would leave the running listener open: refused', (t: TestContext) => {
  const current = config({ server: { host: '0.0.0.0', allow: ['10.0.0.0/8'] }, upstreams: { a: upstream } }).config
  const next = config({ server: { host: '127.0.0.1' }, upstreams: { a: upstream } }).config
  const plan = planReload(current, next)
  t.assert.deepStrictEqual(plan.restartNeeded, ['server.host'])
  t.assert.deepStrictEqual(plan.problems.map((problem) => problem.path), ['server.allow'])
})

test('a file change hidden by --port or TOLLGATE_LOG_LEVEL is reported as overridden; one they do not hide is not', (t: TestContext) => {
  const env = { TOLLGATE_LOG_LEVEL: 'warn' }
  const before = config({ server: { port: 8080 }, log: { level: 'info' }, upstreams: { a: upstream } }).config
  const after = config({ server: { port: 9090 }, log: { level: 'debug' }, upstreams: { a: upstream } }).config
  const applied = applyOverrides(after, { port: 7070 }, env)
  t.assert.deepStrictEqual(overriddenChanges(before, after, applied.applied), ['server.port', 'log.level'])
  t.assert.deepStrictEqual([applied.config.server.port, applied.config.log.level], [7070, 'warn'])
  t.assert.deepStrictEqual(overriddenChanges(before, before, applied.applied), [], 'unchanged in the file: nothing hidden')
  t.assert.deepStrictEqual(overriddenChanges(before, after, []), [], 'no flags: nothing hidden')
})

test('the hash leaves out every interpolated value and every secret: a rotated secret keeps it, any other change moves it', (t: TestContext) => {
  const raw = (secret: string, headers: Record<string, string> = {}): Record<string, unknown> => ({
    upstreams: {
      a: {
        target: '${TARGET}',
        headers: { 'X-Api-Key': '${API_KEY}', ...headers },
        auth: { type: 'oauth2_client_credentials', tokenUrl: 'http://127.0.0.1:9/token', clientId: 'client', clientSecret: secret }
      }
    }
  })
  const env = { TARGET: 'http://127.0.0.1:9/one', API_KEY: 'key-one-1234' }
  const base = config(raw('${SECRET}'), { ...env, SECRET: 'first-secret' })
  const digest = configDigest(base.config, base.interpolated)
  t.assert.match(digest, /^[0-9a-f]{64}$/)
  const rotated = config(raw('${SECRET}'), { ...env, SECRET: 'second-secret' })
  t.assert.strictEqual(configDigest(rotated.config, rotated.interpolated), digest, 'a new secret value')
  const moved = config(raw('${SECRET}'), { ...env, TARGET: 'http://127.0.0.1:9/two', API_KEY: 'key-two-5678', SECRET: 'first-secret' })
  t.assert.strictEqual(configDigest(moved.config, moved.interpolated), digest, 'new values behind every reference')
  const literal = config(raw('literal-secret-one'), env)
  t.assert.strictEqual(configDigest(config(raw('literal-secret-two'), env).config, literal.interpolated), configDigest(literal.config, literal.interpolated), 'a secret written in the file')
  const changed = config(raw('${SECRET}', { Accept: 'application/json' }), { ...env, SECRET: 'first-secret' })
  t.assert.notStrictEqual(configDigest(changed.config, changed.interpolated), digest, 'a new header')
  t.assert.notStrictEqual(configDigest(base.config, undefined), digest, 'without the interpolated paths the values count')
})
