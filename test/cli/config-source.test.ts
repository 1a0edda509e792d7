import { test, type TestContext } from 'node:test'
import { runCli, startCli, type CliRun } from '../helpers/cli-process.js'
import { fixtureDir } from '../helpers/fixtures.js'

const GOOD = 'server:\n  port: 0\n  shutdownGrace: 1s\nupstreams:\n  a:\n    target: http://127.0.0.1:9\n'

/** The JSON log lines on stdout. */
function logLines (run: CliRun): Array<Record<string, unknown>> {
  return run.stdout().split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as Record<string, unknown>)
}

/** The keys of the shutdown lines, without time and pid: what an operator's log query sees. */
function shutdownShape (run: CliRun): string[] {
  return logLines(run)
    .filter((line) => line.msg === 'shutting down' || line.msg === 'stopped')
    .map((line) => `${String(line.msg)}: ${Object.keys(line).filter((key) => !['time', 'pid', 'hostname'].includes(key)).sort().join(',')}`)
}

test('where the config comes from: --config, TOLLGATE_CONFIG, or the demo', { concurrency: 3, timeout: 90_000 }, async (t: TestContext) => {
  const good = fixtureDir(t).write('good.yaml', GOOD)

  await Promise.all([
    t.test('TOLLGATE_CONFIG="" with no --config: exit 2, the demo does not start', async (t: TestContext) => {
      const { code, stdout, stderr } = await runCli(t, ['--port', '0'], { TOLLGATE_CONFIG: '' })
      t.assert.strictEqual(code, 2)
      t.assert.match(stderr, /^tollgate: TOLLGATE_CONFIG is set but empty/)
      t.assert.doesNotMatch(stderr, /demo:/)
      t.assert.strictEqual(stdout, '')
    }),

    t.test('check with TOLLGATE_CONFIG="": exit 2', async (t: TestContext) => {
      const { code, stderr } = await runCli(t, ['check'], { TOLLGATE_CONFIG: '' })
      t.assert.strictEqual(code, 2)
      t.assert.match(stderr, /TOLLGATE_CONFIG is set but empty/)
    }),

    t.test('--config wins over TOLLGATE_CONFIG (empty or not)', async (t: TestContext) => {
      const [empty, other] = await Promise.all([
        runCli(t, ['check', '--config', good], { TOLLGATE_CONFIG: '' }),
        runCli(t, ['check', '--config', good], { TOLLGATE_CONFIG: '/nonexistent/tollgate.yaml' })
      ])
      t.assert.strictEqual(empty.code, 0, empty.stderr)
      t.assert.strictEqual(other.code, 0, other.stderr)
      t.assert.match(other.stdout, /good\.yaml: ok/)
    }),

    t.test('NODE_ENV=production and no config: exit 2 naming --config and `tollgate demo`', async (t: TestContext) => {
      const { code, stdout, stderr } = await runCli(t, ['--port', '0'], { NODE_ENV: 'production' })
      t.assert.strictEqual(code, 2)
      const [first] = stderr.split('\n')
      t.assert.match(first ?? '', /^tollgate: .*--config FILE.*`tollgate demo`/)
      t.assert.strictEqual(stdout, '')
    }),

    t.test('`tollgate demo` runs the demo under NODE_ENV=production, warns on stdout, and logs the sidecar\'s shutdown lines', async (t: TestContext) => {
      const demo = startCli(t, ['demo', '--port', '0'], { NODE_ENV: 'production' })
      await demo.waitForStdout(/"level":40[^\n]*"msg":"[^"]*demo[^"]*"/)
      const sidecar = startCli(t, ['--config', good])
      await sidecar.waitForStdout(/listening at/)
      demo.child.kill('SIGTERM')
      sidecar.child.kill('SIGTERM')
      t.assert.strictEqual((await demo.exited).code, 0, demo.stderr())
      t.assert.strictEqual((await sidecar.exited).code, 0, sidecar.stderr())
      const expected = shutdownShape(sidecar)
      t.assert.deepStrictEqual(expected, ['shutting down: graceMs,level,msg,service,signal', 'stopped: level,msg,outcome,service'])
      t.assert.deepStrictEqual(shutdownShape(demo), expected)
    })
  ])
})
