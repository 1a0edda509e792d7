import { test, type TestContext } from 'node:test'
import { runCli } from '../helpers/cli-process.js'
import { fixtureDir } from '../helpers/fixtures.js'

const GOOD = `
server:
  port: 0
upstreams:
  halaxy:
    target: http://127.0.0.1:9/main
    auth:
      type: static_bearer
      token: \${TG_TEST_TOKEN:-dev-token}
`

const BAD = `
server:
  port: 0
  hots: 127.0.0.1
upstreams:
  halaxy:
    target: ftp://au-api.halaxy.com/main
    timeout: soon
  photon:
    target: http://127.0.0.1:9
    auth:
      type: oauth2_client_credentials
      tokenUrl: http://127.0.0.1:9/oauth/token
      clientId: abc
      clientSecret: \${TG_TEST_UNSET_SECRET}
`

// Each case spawns the CLI through tsx (~1.5 s of start-up); two at a time keeps the file short on a 2-core runner.
test('tollgate CLI', { concurrency: 2 }, async (t: TestContext) => {
  const dir = fixtureDir(t)
  const good = dir.write('good.yaml', GOOD)
  const bad = dir.write('bad.yaml', BAD)

  await Promise.all([
    t.test('--help exits 0 with the usage', async (t: TestContext) => {
      t.plan(3)
      const { code, stdout } = await runCli(t, ['--help'])
      t.assert.strictEqual(code, 0)
      t.assert.match(stdout, /Usage:/)
      t.assert.match(stdout, /tollgate check --config FILE/)
    }),

    t.test('check --config good.yaml exits 0', async (t: TestContext) => {
      t.plan(2)
      const { code, stdout, stderr } = await runCli(t, ['check', '--config', good])
      t.assert.strictEqual(code, 0, stderr)
      t.assert.match(stdout, /ok/)
    }),

    t.test('check --config bad.yaml exits 1 and prints every problem as `path: message`', async (t: TestContext) => {
      t.plan(6)
      const { code, stdout, stderr } = await runCli(t, ['check', '--config', bad])
      t.assert.strictEqual(code, 1)
      const lines = stderr.split('\n')
      t.assert.ok(lines.some((line) => line.startsWith('server.hots: unknown key')), stderr)
      t.assert.ok(lines.includes('upstreams.halaxy.target: must be an absolute http(s) URL without credentials, query or fragment'), stderr)
      t.assert.ok(lines.some((line) => line.startsWith('upstreams.halaxy.timeout: ')), stderr)
      t.assert.ok(lines.includes('upstreams.photon.auth.clientSecret: environment variable TG_TEST_UNSET_SECRET is not set'), stderr)
      t.assert.doesNotMatch(stdout, /ok/)
    }),

    t.test('an unknown command exits 2 with the usage', async (t: TestContext) => {
      t.plan(3)
      const { code, stdout, stderr } = await runCli(t, ['frobnicate'])
      t.assert.strictEqual(code, 2)
      t.assert.match(stderr, /unknown command: frobnicate/)
      t.assert.match(stderr + stdout, /Usage:/)
    }),

    t.test('run with a bad config exits 1 before listening, naming the field', async (t: TestContext) => {
      t.plan(3)
      const { code, stdout, stderr } = await runCli(t, ['--config', bad])
      t.assert.strictEqual(code, 1)
      t.assert.match(stderr, /^upstreams\.halaxy\.target: /m)
      t.assert.doesNotMatch(stdout, /listening/i)
    })
  ])
})
