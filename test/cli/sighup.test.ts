import { test, type TestContext } from 'node:test'
import { startCli } from '../helpers/cli-process.js'
import { fixtureDir } from '../helpers/fixtures.js'

// Until reload exists (issue 15), SIGHUP must not kill the sidecar: node's default for it is to exit.
test('SIGHUP is ignored with one warn line; the sidecar keeps serving and SIGTERM still drains', { timeout: 30_000 }, async (t: TestContext) => {
  const file = fixtureDir(t).write('tollgate.yaml', 'server:\n  port: 0\n  shutdownGrace: 1s\nupstreams:\n  a:\n    target: http://127.0.0.1:9\n')
  const cli = startCli(t, ['--config', file])
  const [, port] = await cli.waitForStdout(/listening at http:\/\/127\.0\.0\.1:(\d+)/)
  cli.child.kill('SIGHUP')
  const [line] = await cli.waitForStdout(/\{[^\n]*SIGHUP ignored[^\n]*\}/)
  const entry = JSON.parse(line) as Record<string, unknown>
  t.assert.strictEqual(entry.level, 40)
  t.assert.strictEqual(entry.msg, 'SIGHUP ignored: reload not supported yet')

  const res = await fetch(`http://127.0.0.1:${port}/healthz`)
  t.assert.strictEqual(res.status, 200)
  await res.arrayBuffer()
  cli.child.kill('SIGTERM')
  const { code, signal } = await cli.exited
  t.assert.deepStrictEqual({ code, signal }, { code: 0, signal: null })
  t.assert.strictEqual(cli.stdout().split('SIGHUP ignored').length - 1, 1, 'one line per SIGHUP')
  t.assert.match(cli.stdout(), /"msg":"stopped"/)
})
