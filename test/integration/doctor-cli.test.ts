// `tollgate doctor [--config FILE] [UPSTREAM]` as a process: exit 0 when
// every step passes, 1 when one fails (or the config is invalid), 2 on a
// usage error; the lines go to stdout and hold no secret (issue 15). The
// steps themselves are tested in-process by the other doctor-*.test.ts files.
import { test, type TestContext } from 'node:test'
import { startSandbox } from '../../src/sandbox/server.js'
import { runCli } from '../helpers/cli-process.js'
import { assertNoLeaks } from '../helpers/doctor.js'
import { fixtureDir } from '../helpers/fixtures.js'
import { freePort } from '../helpers/ports.js'

// Each case spawns the CLI through tsx (~1.5 s of start-up); two at a time.
test('tollgate doctor', { concurrency: 2 }, async (t: TestContext) => {
  const vendors = await startSandbox()
  t.after(() => vendors.close())
  const { target, tokenUrl } = vendors.endpoints.halaxy
  const { clientId, clientSecret } = vendors.credentials.halaxy
  const halaxy = `
  halaxy:
    preset: halaxy
    target: ${target}
    probe: /Patient?_count=1
    headers: { User-Agent: "tollgate doctor test (doctor@tollgate.invalid)" }
    auth:
      tokenUrl: ${tokenUrl}
      clientId: ${clientId}
      clientSecret: \${HALAXY_SECRET}`
  const dir = fixtureDir(t)
  const good = dir.write('good.yaml', `upstreams:${halaxy}\n`)
  const down = dir.write('down.yaml', `upstreams:${halaxy}
  down:
    target: http://127.0.0.1:${await freePort()}
    auth: { type: static_bearer, token: static-doctor-token-2b7e }
`)
  const invalid = dir.write('invalid.yaml', 'upstreams:\n  halaxy:\n    target: http://127.0.0.1:9\n    probe: Patient\n')
  const env = { HALAXY_SECRET: clientSecret }

  await Promise.all([
    t.test('every step passes: exit 0, one line per step on stdout', async (t: TestContext) => {
      const { code, stdout, stderr } = await runCli(t, ['doctor', '--config', good], env)
      t.assert.strictEqual(code, 0, stderr)
      const lines = stdout.trimEnd().split('\n')
      t.assert.deepStrictEqual(lines.map((line) => line.split(/\s+/).slice(0, 3).join(' ')), ['halaxy dns ok', 'halaxy tcp ok', 'halaxy token ok', 'halaxy clock ok', 'halaxy probe ok', '1 upstream: 5'])
      t.assert.strictEqual(lines.at(-1), '1 upstream: 5 ok')
      t.assert.strictEqual(stderr, '')
      assertNoLeaks(t, stdout + stderr, [clientSecret])
    }),

    t.test('a step fails: exit 1; UPSTREAM limits the run to that upstream', async (t: TestContext) => {
      const all = await runCli(t, ['doctor', '--config', down], env)
      t.assert.strictEqual(all.code, 1, all.stderr)
      t.assert.match(all.stdout, /^down {4}tcp {4}FAIL {2}127\.0\.0\.1:\d+: connection refused/m)
      t.assert.match(all.stdout, /^halaxy {2}probe {2}ok/m)
      const one = await runCli(t, ['doctor', '--config', down, 'halaxy'], env)
      t.assert.strictEqual(one.code, 0, one.stderr)
      t.assert.doesNotMatch(one.stdout, /^down/m)
      assertNoLeaks(t, all.stdout + all.stderr, [clientSecret, 'static-doctor-token-2b7e'])
    }),

    t.test('an unknown upstream name is a usage error: exit 2, naming the ones there are', async (t: TestContext) => {
      const { code, stdout, stderr } = await runCli(t, ['doctor', '--config', down, 'halaxi'], env)
      t.assert.strictEqual(code, 2)
      t.assert.strictEqual(stderr, `doctor: no upstream named "halaxi" in ${down} (it has halaxy, down)\n`)
      t.assert.strictEqual(stdout, '')
    }),

    t.test('a flag doctor does not take, two names, or no config: exit 2', async (t: TestContext) => {
      const flag = await runCli(t, ['doctor', '--config', good, '--port', '8080'], env)
      t.assert.strictEqual(flag.code, 2)
      t.assert.match(flag.stderr, /^doctor does not take --port/)
      const two = await runCli(t, ['doctor', '--config', good, 'halaxy', 'down'], env)
      t.assert.strictEqual(two.code, 2)
      t.assert.match(two.stderr, /^doctor takes one upstream name at most/)
      const none = await runCli(t, ['doctor'], env)
      t.assert.strictEqual(none.code, 2)
      t.assert.match(none.stderr, /^doctor needs --config FILE/)
    }),

    t.test('an invalid config: exit 1 with its problems, nothing run', async (t: TestContext) => {
      const { code, stdout, stderr } = await runCli(t, ['doctor', '--config', invalid])
      t.assert.strictEqual(code, 1)
      t.assert.match(stderr, /upstreams\.halaxy\.probe: must be a path and query relative to target, e\.g\. \/Patient\?_count=1/)
      t.assert.strictEqual(stdout, '')
    })
  ])
})
