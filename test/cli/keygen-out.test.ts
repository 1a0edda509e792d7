import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { calculateJwkThumbprint, type JWK } from 'jose'
import { runCli } from '../helpers/cli-process.js'
import { fixtureDir } from '../helpers/fixtures.js'

const mode = (path: string): number => statSync(path).mode & 0o777

test('keygen --out DIR', { concurrency: 3, timeout: 90_000 }, async (t: TestContext) => {
  await Promise.all([
    t.test('writes DIR/<kid>.pem (0600) and DIR/<kid>.jwks.json, creates DIR 0700, prints both paths and no key', async (t: TestContext) => {
      const dir = join(fixtureDir(t).dir, 'keys', 'redox')
      const { code, stdout, stderr } = await runCli(t, ['keygen', '--kid', 'k1', '--out', dir])
      t.assert.strictEqual(code, 0, stderr)
      const pem = join(dir, 'k1.pem')
      const jwks = join(dir, 'k1.jwks.json')
      t.assert.strictEqual(mode(dir), 0o700)
      t.assert.strictEqual(mode(pem), 0o600)
      // A boolean, not assert.match: a failure must not print the key into the test output.
      t.assert.ok(/^-----BEGIN PRIVATE KEY-----\n[A-Za-z0-9+/=\n]+-----END PRIVATE KEY-----\n$/.test(readFileSync(pem, 'utf8')), 'the file is one PKCS#8 PEM that ends in a newline')
      const keys = (JSON.parse(readFileSync(jwks, 'utf8')) as { keys: JWK[] }).keys
      t.assert.strictEqual(keys.length, 1)
      t.assert.strictEqual(keys[0]?.kid, 'k1')
      t.assert.strictEqual(keys[0]?.d, undefined)
      t.assert.ok(stdout.includes(pem), stdout)
      t.assert.ok(stdout.includes(jwks), stdout)
      t.assert.doesNotMatch(stdout, /PRIVATE KEY/)
    }),

    t.test('never overwrites: an existing file is exit 1 with one line, and nothing is written', async (t: TestContext) => {
      const dir = fixtureDir(t).dir
      writeFileSync(join(dir, 'k2.jwks.json'), 'keep me')
      const { code, stdout, stderr } = await runCli(t, ['keygen', '--kid', 'k2', '--out', dir])
      t.assert.strictEqual(code, 1)
      t.assert.strictEqual(stderr.trimEnd().split('\n').length, 1, stderr)
      t.assert.match(stderr, /^tollgate: .*k2\.jwks\.json already exists/)
      t.assert.strictEqual(stdout, '')
      t.assert.strictEqual(readFileSync(join(dir, 'k2.jwks.json'), 'utf8'), 'keep me')
      t.assert.strictEqual(existsSync(join(dir, 'k2.pem')), false, 'half a key pair was left behind')
    }),

    t.test('without --kid: the kid is the key\'s RFC 7638 thumbprint, and names the files', async (t: TestContext) => {
      const dir = fixtureDir(t).dir
      const { code, stderr } = await runCli(t, ['keygen', '--out', dir])
      t.assert.strictEqual(code, 0, stderr)
      const files = readdirSync(dir).sort()
      t.assert.strictEqual(files.length, 2, files.join(', '))
      const jwksFile = files.find((name) => name.endsWith('.jwks.json')) as string
      const kid = jwksFile.slice(0, -'.jwks.json'.length)
      const [jwk] = (JSON.parse(readFileSync(join(dir, jwksFile), 'utf8')) as { keys: JWK[] }).keys
      t.assert.strictEqual(jwk?.kid, kid)
      const { kid: _kid, alg: _alg, use: _use, ...publicJwk } = jwk as JWK
      t.assert.strictEqual(await calculateJwkThumbprint(publicJwk), kid)
      t.assert.deepStrictEqual(files, [`${kid}.jwks.json`, `${kid}.pem`])
    }),

    t.test('an existing DIR is used as it is', async (t: TestContext) => {
      const dir = join(fixtureDir(t).dir, 'existing')
      mkdirSync(dir, { mode: 0o750 })
      const { code, stderr } = await runCli(t, ['keygen', '--kid', 'k3', '--out', dir])
      t.assert.strictEqual(code, 0, stderr)
      t.assert.strictEqual(mode(join(dir, 'k3.pem')), 0o600)
    }),

    t.test('a kid that is no file name: exit 2 with --out', async (t: TestContext) => {
      const dir = fixtureDir(t).dir
      const { code, stderr } = await runCli(t, ['keygen', '--kid', '../evil', '--out', dir])
      t.assert.strictEqual(code, 2)
      t.assert.match(stderr, /--kid/)
      t.assert.deepStrictEqual(readdirSync(dir), [])
    })
  ])
})
