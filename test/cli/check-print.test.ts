import { generateKeyPairSync } from 'node:crypto'
import { test, type TestContext } from 'node:test'
import { parse as parseYaml } from 'yaml'
import { runCli } from '../helpers/cli-process.js'
import { fixtureDir } from '../helpers/fixtures.js'
import { createPki } from '../helpers/pki.js'

// Made per run; each one must be absent from what `check --print` writes.
const REDOX_KEY = generateKeyPairSync('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } }).privateKey
const SECRETS = {
  HALAXY_SECRET: 'halaxy-client-secret-7f3a61',
  STATIC_TOKEN: 'static-bearer-token-91c2d4',
  PROXY_PASSWORD: 'proxy-pass-5d1e77',
  REDIS_PASSWORD: 'redis-pass-c0ffee42',
  ENCRYPTION_KEY: 'store-encryption-key-0123456789',
  INBOUND_TOKEN: 'inbound-token-abcdef0123456789',
  API_KEY_HEADER: 'x-api-key-value-8e8e8e',
  REDIS_SENTINEL_PASSWORD: 'sentinel-pass-3b3b3b'
}

const CONFIG = `
server:
  port: 0
  inboundToken: \${INBOUND_TOKEN}
store:
  type: redis
  url: redis://:\${REDIS_PASSWORD}@127.0.0.1:6379
  encryptionKey: \${ENCRYPTION_KEY}
  redis:
    sentinelPassword: \${REDIS_SENTINEL_PASSWORD}
upstreams:
  halaxy:
    preset: halaxy
    headers:
      User-Agent: Acme Clinic Sync (dev@acme.example)
    auth:
      clientId: halaxy-client
      clientSecret: \${HALAXY_SECRET}
  redox:
    preset: redox
    auth:
      clientId: redox-client
      keyId: redox-kid
      privateKey: \${file:redox.pem}
  static:
    target: https://api.example.com/v1
    proxy: http://svc:\${PROXY_PASSWORD}@proxy.example:3128
    headers:
      X-Api-Key: \${API_KEY_HEADER}
    tls:
      cert: \${file:client.pem}
      key: \${file:client.key}
    auth:
      type: static_bearer
      token: \${STATIC_TOKEN}
`

test('check --print: the effective config, presets and defaults applied, every secret <redacted>', { concurrency: 3, timeout: 90_000 }, async (t: TestContext) => {
  const pki = createPki()
  t.after(() => pki.remove())
  const dir = fixtureDir(t)
  dir.write('redox.pem', REDOX_KEY)
  dir.write('client.pem', pki.clientCert)
  dir.write('client.key', pki.clientKey)
  const file = dir.write('tollgate.yaml', CONFIG)
  const secretValues = [...Object.values(SECRETS), REDOX_KEY, pki.clientKey,
    // Any recognisable part of the PEM keys, and the proxy's credentials in the form undici sends them.
    ...[REDOX_KEY, pki.clientKey].map((pem) => pem.split('\n')[2] as string),
    Buffer.from(`svc:${SECRETS.PROXY_PASSWORD}`).toString('base64')]
  const noSecret = (t: TestContext, text: string): void => {
    const leaked = secretValues.filter((secret) => text.includes(secret))
    // Which one, by position: printing it would leak it into the test output.
    t.assert.deepStrictEqual(leaked.map((secret) => secretValues.indexOf(secret)), [], 'secrets (by index) in the output')
  }

  await Promise.all([
    t.test('as YAML (the default)', async (t: TestContext) => {
      const { code, stdout, stderr } = await runCli(t, ['check', file, '--print'], SECRETS)
      t.assert.strictEqual(code, 0, stderr)
      noSecret(t, stdout + stderr)
      const printed = parseYaml(stdout) as Record<string, any>
      // Presets and defaults filled in, in the file's own vocabulary.
      t.assert.strictEqual(printed.upstreams.halaxy.target, 'https://au-api.halaxy.com/main')
      t.assert.strictEqual(printed.upstreams.halaxy.prefix, '/halaxy')
      t.assert.strictEqual(printed.upstreams.halaxy.auth.tokenUrl, 'https://au-api.halaxy.com/main/oauth/token')
      t.assert.strictEqual(printed.upstreams.halaxy.auth.maxTokenTtl, '15m')
      t.assert.strictEqual(printed.upstreams.halaxy.timeout, '30s')
      t.assert.deepStrictEqual(printed.upstreams.halaxy.rateLimit?.requests, 500)
      t.assert.strictEqual(printed.upstreams.halaxy.rateLimit?.window, '1m')
      t.assert.strictEqual(printed.server.shutdownGrace, '10s')
      t.assert.strictEqual(printed.server.host, '127.0.0.1')
      t.assert.strictEqual(printed.upstreams.redox.auth.clientAuth, 'private_key_jwt')
      // Every secret shown as <redacted>, where it was.
      t.assert.strictEqual(printed.upstreams.halaxy.auth.clientSecret, '<redacted>')
      t.assert.strictEqual(printed.upstreams.redox.auth.privateKey, '<redacted>')
      t.assert.strictEqual(printed.upstreams.static.auth.token, '<redacted>')
      t.assert.strictEqual(printed.upstreams.static.tls.key, '<redacted>')
      t.assert.strictEqual(printed.upstreams.static.headers['x-api-key'], '<redacted>')
      t.assert.strictEqual(printed.upstreams.static.proxy, 'http://svc:<redacted>@proxy.example:3128')
      t.assert.strictEqual(printed.server.inboundToken, '<redacted>')
      t.assert.strictEqual(printed.store.encryptionKey, '<redacted>')
      t.assert.strictEqual(printed.store.url, 'redis://:<redacted>@127.0.0.1:6379')
      t.assert.strictEqual(printed.store.redis.sentinelPassword, '<redacted>')
      // Not secret: the public certificate stays.
      t.assert.strictEqual(printed.upstreams.static.tls.cert, pki.clientCert.trimEnd())
    }),

    t.test('as JSON (--format json)', async (t: TestContext) => {
      const { code, stdout, stderr } = await runCli(t, ['check', '--config', file, '--print', '--format', 'json'], SECRETS)
      t.assert.strictEqual(code, 0, stderr)
      noSecret(t, stdout + stderr)
      const printed = JSON.parse(stdout) as Record<string, any>
      t.assert.strictEqual(printed.upstreams.halaxy.auth.clientSecret, '<redacted>')
      t.assert.strictEqual(printed.upstreams.halaxy.auth.maxTokenTtl, '15m')
    }),

    t.test('--format that is neither: exit 2', async (t: TestContext) => {
      const { code, stderr } = await runCli(t, ['check', file, '--print', '--format', 'toml'], SECRETS)
      t.assert.strictEqual(code, 2)
      t.assert.match(stderr, /--format must be yaml or json/)
    }),

    t.test('an invalid config prints no config, only the problems (exit 1)', async (t: TestContext) => {
      const { code, stdout, stderr } = await runCli(t, ['check', file, '--print'], { ...SECRETS, HALAXY_SECRET: undefined })
      t.assert.strictEqual(code, 1)
      t.assert.strictEqual(stdout, '')
      t.assert.match(stderr, /upstreams\.halaxy\.auth\.clientSecret: /)
      noSecret(t, stderr)
    }),

    t.test('what it prints is a valid config that prints the same again', async (t: TestContext) => {
      const SECRET_REF = '$' + '{HALAXY_SECRET}'
      // The secret comes back as the string <redacted>, which is a valid (if useless) clientSecret: the rest must survive as it was.
      const plain = dir.write('plain.yaml', `server:\n  port: 9099\n  bodyLimit: 512kb\nupstreams:\n  halaxy:\n    preset: halaxy\n    headers:\n      User-Agent: Acme (dev@acme.example)\n    auth:\n      clientId: halaxy-client\n      clientSecret: ${SECRET_REF}\n  other:\n    target: http://127.0.0.1:9/base\n    rateLimit: { requests: 10, window: 1500ms, maxConcurrent: 2 }\n    retry: { methods: [GET, PUT] }\n`)
      const first = await runCli(t, ['check', plain, '--print'], SECRETS)
      t.assert.strictEqual(first.code, 0, first.stderr)
      noSecret(t, first.stdout)
      const again = dir.write('again.yaml', first.stdout)
      const second = await runCli(t, ['check', again, '--print'])
      t.assert.strictEqual(second.code, 0, `${second.stderr}\n${first.stdout}`)
      t.assert.strictEqual(second.stdout, first.stdout)
    })
  ])
})
