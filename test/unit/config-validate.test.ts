import { generateKeyPairSync } from 'node:crypto'
import { test, type TestContext } from 'node:test'
import { formatIssues, type ConfigIssue } from '../../src/config/issues.js'
import { resolveConfig } from '../../src/config/load.js'

const TARGET = 'http://127.0.0.1:9'

function issuesOf (raw: unknown, env: NodeJS.ProcessEnv = {}): ConfigIssue[] {
  const result = resolveConfig(raw, { env })
  return result.issues ?? []
}

function oauth (extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { type: 'oauth2_client_credentials', tokenUrl: `${TARGET}/oauth/token`, clientId: 'client', ...extra }
}

test('unknown keys are rejected with their full path, at every level', (t: TestContext) => {
  t.plan(1)
  const issues = issuesOf({
    bogus: 1,
    server: { hots: '127.0.0.1' },
    upstreams: { halaxy: { target: TARGET, tiemout: '1s', auth: { type: 'none', clientSecrett: 'x' }, rateLimit: { requests: 1, window: '1s', burst: 2 } } }
  })
  t.assert.deepStrictEqual(issues.map(formatIssue).sort(), [
    'bogus: unknown key',
    'server.hots: unknown key; did you mean host?',
    'upstreams.halaxy.auth.clientSecrett: unknown key; did you mean clientSecret?',
    'upstreams.halaxy.rateLimit.burst: unknown key',
    'upstreams.halaxy.tiemout: unknown key; did you mean timeout?'
  ])
})

test('each problem names its field path; the contract examples word for word', (t: TestContext) => {
  t.plan(2)
  const issues = issuesOf({ upstreams: { halaxy: { target: 'ftp://au-api.halaxy.com/main' } } })
  t.assert.deepStrictEqual(issues.map(formatIssue), ['upstreams.halaxy.target: must be an absolute http(s) URL without credentials, query or fragment'])
  const secret = issuesOf({ upstreams: { halaxy: { target: TARGET, auth: oauth() } } })
  t.assert.deepStrictEqual(secret.map(formatIssue), ['upstreams.halaxy.auth.clientSecret: required'])
})

test('several problems in different places are all reported at once', (t: TestContext) => {
  t.plan(2)
  const shape = issuesOf({
    server: { port: 70000 },
    log: { level: 'loud' },
    upstreams: { halaxy: { target: 'not a url', timeout: 'soon' }, photon: { target: TARGET, retry: { on429: -1 } } }
  })
  t.assert.deepStrictEqual(shape.map((issue) => issue.path).sort(), ['log.level', 'server.port', 'upstreams.halaxy.target', 'upstreams.halaxy.timeout', 'upstreams.photon.retry.on429'])
  const crossField = issuesOf({
    server: { host: '0.0.0.0' },
    upstreams: {
      halaxy: { target: TARGET, auth: oauth() },
      photon: { target: TARGET, auth: { type: 'static_bearer' } },
      redox: { target: TARGET, auth: oauth({ clientAuth: 'private_key_jwt' }) },
      nope: { auth: { type: 'none' } }
    }
  })
  t.assert.deepStrictEqual(crossField.map((issue) => issue.path).sort(), [
    'server.host',
    'upstreams.halaxy.auth.clientSecret',
    'upstreams.nope.target',
    'upstreams.photon.auth.token',
    'upstreams.redox.auth.privateKey'
  ])
})

test('shape problems and cross-field problems are reported in one pass (check prints every problem)', (t: TestContext) => {
  t.plan(1)
  // One typo must not hide the missing secret: `tollgate check` should need one run, not two.
  const issues = issuesOf({ bogus: 1, upstreams: { halaxy: { target: TARGET, auth: oauth() } } })
  t.assert.deepStrictEqual(issues.map(formatIssue).sort(), ['bogus: unknown key', 'upstreams.halaxy.auth.clientSecret: required'])
})

test('two upstreams on one prefix', (t: TestContext) => {
  t.plan(2)
  const issues = issuesOf({ upstreams: { halaxy: { target: TARGET }, other: { target: TARGET, prefix: '/halaxy/' } } })
  t.assert.strictEqual(issues.length, 1)
  t.assert.strictEqual(issues[0]?.path, 'upstreams.other.prefix')
})

test('a reserved prefix (/metrics and the other ops paths) is refused', (t: TestContext) => {
  t.plan(4)
  for (const prefix of ['/metrics', '/healthz', '/readyz/x', '/status']) {
    const issues = issuesOf({ upstreams: { a: { target: TARGET, prefix } } })
    t.assert.deepStrictEqual(issues.map((issue) => issue.path), ['upstreams.a.prefix'], prefix)
  }
})

test('a prefix that is not plain segments is refused', (t: TestContext) => {
  t.plan(3)
  for (const prefix of ['halaxy', '/a/../b', '/a b']) {
    t.assert.deepStrictEqual(issuesOf({ upstreams: { a: { target: TARGET, prefix } } }).map((issue) => issue.path), ['upstreams.a.prefix'], prefix)
  }
})

test('a non-loopback server.host needs server.allow or server.inboundToken', (t: TestContext) => {
  t.plan(5)
  const upstreams = { a: { target: TARGET } }
  t.assert.deepStrictEqual(issuesOf({ server: { host: '0.0.0.0' }, upstreams }).map((issue) => issue.path), ['server.host'])
  t.assert.deepStrictEqual(issuesOf({ server: { host: '10.1.2.3' }, upstreams }).map((issue) => issue.path), ['server.host'])
  t.assert.deepStrictEqual(issuesOf({ server: { host: '0.0.0.0', allow: ['10.0.0.0/8'] }, upstreams }), [])
  t.assert.deepStrictEqual(issuesOf({ server: { host: '0.0.0.0', inboundToken: 'a-long-enough-inbound-token' }, upstreams }), [])
  t.assert.deepStrictEqual(issuesOf({ server: { host: '127.0.0.2' }, upstreams }), [], 'all of 127/8 is loopback')
})

test('a too-short inboundToken says how long it must be', (t: TestContext) => {
  t.plan(1)
  const issues = issuesOf({ server: { inboundToken: 'short' }, upstreams: { a: { target: TARGET } } })
  t.assert.deepStrictEqual(issues.map(formatIssue), ['server.inboundToken: must be at least 16 characters'])
})

test('a bad private key: not PEM, or the wrong kind for signingAlg', (t: TestContext) => {
  t.plan(3)
  const garbage = issuesOf({ upstreams: { redox: { target: TARGET, auth: oauth({ clientAuth: 'private_key_jwt', privateKey: '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n' }) } } })
  t.assert.deepStrictEqual(garbage.map(formatIssue), ['upstreams.redox.auth.privateKey: not a PEM private key (PKCS#8 or PKCS#1)'])
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
  const wrongKind = issuesOf({ upstreams: { redox: { target: TARGET, auth: oauth({ clientAuth: 'private_key_jwt', privateKey: pem, signingAlg: 'ES256' }) } } })
  t.assert.deepStrictEqual(wrongKind.map(formatIssue), ['upstreams.redox.auth.privateKey: does not fit signing algorithm ES256'])
  t.assert.deepStrictEqual(issuesOf({ upstreams: { redox: { target: TARGET, auth: oauth({ clientAuth: 'private_key_jwt', privateKey: pem }) } } }), [], 'a good RSA key for RS384 passes')
})

test('store.commandTimeout and store.unavailableAfter are durations with defaults; store.redis.commandTimeout is refused with a hint', (t: TestContext) => {
  t.plan(5)
  const store = (extra: Record<string, unknown>): Record<string, unknown> => ({ store: { type: 'redis', url: 'redis://127.0.0.1:6379', ...extra }, upstreams: { photon: { target: TARGET } } })
  const defaults = resolveConfig(store({}), { env: {} }).config?.store
  t.assert.deepStrictEqual([defaults?.commandTimeoutMs, defaults?.unavailableAfterMs], [1000, 3000])
  const set = resolveConfig(store({ commandTimeout: '250ms', unavailableAfter: 5 }), { env: {} }).config?.store
  t.assert.deepStrictEqual([set?.commandTimeoutMs, set?.unavailableAfterMs], [250, 5000])
  t.assert.deepStrictEqual(issuesOf(store({ redis: { commandTimeout: 2000, connectTimeout: 5000 } })).map(formatIssue), [
    'store.redis.commandTimeout: is not passed to ioredis: use store.commandTimeout (a duration, e.g. 2s)'
  ])
  t.assert.deepStrictEqual(issuesOf(store({ commandTimeout: 'soon', unavailableAfter: '-1s' })).map((issue) => issue.path).sort(), ['store.commandTimeout', 'store.unavailableAfter'])
  t.assert.deepStrictEqual(issuesOf(store({ commandTimeout: 0 })).map(formatIssue), ['store.commandTimeout: must be longer than 0'])
})

test('the resolved config is frozen', (t: TestContext) => {
  t.plan(2)
  const { config } = resolveConfig({ upstreams: { a: { target: TARGET } } }, { env: {} })
  t.assert.ok(Object.isFrozen(config))
  t.assert.ok(Object.isFrozen(config?.upstreams[0]))
})

function formatIssue (issue: ConfigIssue): string {
  return formatIssues([issue])
}
