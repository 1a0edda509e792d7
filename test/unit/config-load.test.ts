/* eslint-disable no-template-curly-in-string -- ${VAR} and ${file:} are the config syntax under test */
import { test, type TestContext } from 'node:test'
import { loadConfigFile } from '../../src/config/load.js'
import { fixtureDir } from '../helpers/fixtures.js'

const YAML = `
server:
  port: 0
  shutdownGrace: 5s
log:
  level: warn
upstreams:
  halaxy:
    target: http://127.0.0.1:9/main/
    timeout: 250ms
    headers:
      User-Agent: "Acme Clinic Sync (dev@acme.example)"
    auth:
      type: static_bearer
      token: \${HALAXY_TOKEN}
`

const JSON_TEXT = JSON.stringify({
  server: { port: 0, shutdownGrace: '5s' },
  log: { level: 'warn' },
  upstreams: {
    halaxy: {
      target: 'http://127.0.0.1:9/main/',
      timeout: '250ms',
      headers: { 'User-Agent': 'Acme Clinic Sync (dev@acme.example)' },
      auth: { type: 'static_bearer', token: '${HALAXY_TOKEN}' }
    }
  }
})

test('a YAML file and the same config as JSON load to the same resolved config', (t: TestContext) => {
  t.plan(9)
  const dir = fixtureDir(t)
  const env = { HALAXY_TOKEN: 'tok-from-env' }
  const fromYaml = loadConfigFile(dir.write('tollgate.yaml', YAML), env)
  const fromJson = loadConfigFile(dir.write('tollgate.json', JSON_TEXT), env)
  t.assert.strictEqual(fromYaml.issues, undefined, JSON.stringify(fromYaml.issues))
  t.assert.strictEqual(fromJson.issues, undefined, JSON.stringify(fromJson.issues))
  const upstream = fromYaml.config?.upstreams[0]
  t.assert.strictEqual(upstream?.name, 'halaxy')
  t.assert.strictEqual(upstream?.prefix, '/halaxy', 'prefix defaults to /<name>')
  t.assert.strictEqual(upstream?.target, 'http://127.0.0.1:9/main', 'trailing slash of the target trimmed')
  t.assert.strictEqual(upstream?.timeoutMs, 250)
  t.assert.deepStrictEqual(upstream?.headers, { 'user-agent': 'Acme Clinic Sync (dev@acme.example)' })
  t.assert.deepStrictEqual(upstream?.auth, { type: 'static_bearer', token: 'tok-from-env' })
  t.assert.deepStrictEqual(JSON.parse(JSON.stringify(fromJson.config)), JSON.parse(JSON.stringify(fromYaml.config)))
})

test('defaults are filled: host, port, grace, body limit, headers timeout, log level, store', (t: TestContext) => {
  t.plan(3)
  const dir = fixtureDir(t)
  const result = loadConfigFile(dir.write('min.yaml', 'upstreams:\n  photon:\n    target: http://127.0.0.1:9\n'), {})
  t.assert.deepStrictEqual({ ...result.config?.server }, { host: '127.0.0.1', port: 8080, shutdownGraceMs: 10_000, bodyLimit: 10 * 1024 * 1024, headersTimeoutMs: 10_000, bodyTimeoutMs: 30_000, allow: [] })
  t.assert.strictEqual(result.config?.log.level, 'info')
  t.assert.deepStrictEqual({ ...result.config?.store }, { type: 'memory', keyPrefix: 'tollgate:', onUnavailable: 'local', commandTimeoutMs: 1000, unavailableAfterMs: 3000 })
})

test('a missing file and a file that is not YAML are reported, not thrown', (t: TestContext) => {
  t.plan(4)
  const dir = fixtureDir(t)
  const missing = loadConfigFile(`${dir.dir}/nope.yaml`, {})
  t.assert.strictEqual(missing.issues?.length, 1)
  t.assert.match(missing.issues?.[0]?.message ?? '', /cannot read config file .*nope\.yaml \(ENOENT\)/)
  const broken = loadConfigFile(dir.write('broken.yaml', 'upstreams: [\n  a: {'), {})
  t.assert.strictEqual(broken.issues?.length, 1)
  t.assert.match(broken.issues?.[0]?.message ?? '', /is not valid YAML or JSON/)
})
