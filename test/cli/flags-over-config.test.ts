import { writeFileSync } from 'node:fs'
import { test, type TestContext } from 'node:test'
import { runCli, startCli } from '../helpers/cli-process.js'
import { fixtureDir } from '../helpers/fixtures.js'
import { freePort } from '../helpers/ports.js'

function config (port: number, level = 'info'): string {
  return `server:\n  port: ${port}\n  shutdownGrace: 1s\nlog:\n  level: ${level}\nupstreams:\n  a:\n    target: http://127.0.0.1:9\n`
}

test('flags and TOLLGATE_* variables over the config file', { concurrency: 3, timeout: 90_000 }, async (t: TestContext) => {
  await Promise.all([
    t.test('--port wins over server.port, and the startup line says so', async (t: TestContext) => {
      const [filePort, flagPort] = [await freePort(), await freePort()]
      const file = fixtureDir(t).write('tollgate.yaml', config(filePort))
      const cli = startCli(t, ['--config', file, '--port', String(flagPort)])
      const [, port] = await cli.waitForStdout(/listening at http:\/\/127\.0\.0\.1:(\d+)/)
      t.assert.strictEqual(Number(port), flagPort, `listened on ${String(port)}; server.port is ${filePort}, --port ${flagPort}`)
      const [started] = await cli.waitForStdout(/\{[^\n]*"msg":"started"[^\n]*\}/)
      t.assert.ok((JSON.parse(started) as { overrides?: string[] }).overrides?.includes('server.port from --port'), started)
      const res = await fetch(`http://127.0.0.1:${flagPort}/healthz`)
      t.assert.strictEqual(res.status, 200)
      await res.arrayBuffer()
      cli.child.kill('SIGTERM')
      t.assert.strictEqual((await cli.exited).code, 0, cli.stderr())
    }),

    t.test('the flags keep winning when a secret file makes tollgate read the config again', async (t: TestContext) => {
      const dir = fixtureDir(t)
      const tokenFile = dir.write('token.txt', 'first-static-token\n')
      const [filePort, port] = [await freePort(), await freePort()]
      const file = dir.write('tollgate.yaml', `server:\n  port: ${filePort}\n  shutdownGrace: 1s\nlog:\n  level: info\nupstreams:\n  a:\n    target: http://127.0.0.1:9\n    auth:\n      type: static_bearer\n      token: \${file:token.txt}\n`)
      const cli = startCli(t, ['--config', file, '--port', String(port)], { TOLLGATE_LOG_LEVEL: 'debug' })
      await cli.waitForStdout(/"msg":"started"/)
      writeFileSync(tokenFile, 'second-static-token\n')
      // Seen through the folder (src/ops/reload.ts), debounced.
      const [line] = await cli.waitForStdout(/\{[^\n]*"msg":"config reloaded"[^\n]*\}/)
      const entry = JSON.parse(line) as Record<string, unknown>
      t.assert.deepStrictEqual([entry.reason, entry.result, entry.restartNeeded, entry.overridden], ['secret file changed', 'applied', undefined, undefined], 'the file\'s server.port and log.level were not taken for changes')
      t.assert.ok(!cli.stdout().includes('second-static-token'), 'the new token reached the log')
      cli.child.kill('SIGTERM')
      t.assert.strictEqual((await cli.exited).code, 0, cli.stderr())
    }),

    t.test('--port equal to server.adminPort: refused (exit 2)', async (t: TestContext) => {
      const file = fixtureDir(t).write('tollgate.yaml', 'server:\n  port: 0\n  adminPort: 9465\nupstreams:\n  a:\n    target: http://127.0.0.1:9\n')
      const { code, stderr } = await runCli(t, ['--config', file, '--port', '9465'])
      t.assert.strictEqual(code, 2)
      t.assert.match(stderr, /^tollgate: --port 9465 is also server\.adminPort/)
    }),

    t.test('TOLLGATE_LOG_LEVEL wins over log.level', async (t: TestContext) => {
      const file = fixtureDir(t).write('tollgate.yaml', config(0, 'silent'))
      const cli = startCli(t, ['--config', file], { TOLLGATE_LOG_LEVEL: 'info' })
      const [started] = await cli.waitForStdout(/\{[^\n]*"msg":"started"[^\n]*\}/)
      t.assert.ok((JSON.parse(started) as { overrides?: string[] }).overrides?.includes('log.level from TOLLGATE_LOG_LEVEL'), started)
      cli.child.kill('SIGTERM')
      t.assert.strictEqual((await cli.exited).code, 0, cli.stderr())
    }),

    t.test('TOLLGATE_LOG_LEVEL that is no level: a config problem (exit 1), one line with the levels', async (t: TestContext) => {
      const file = fixtureDir(t).write('tollgate.yaml', config(0))
      const { code, stdout, stderr } = await runCli(t, ['--config', file], { TOLLGATE_LOG_LEVEL: 'loud' })
      t.assert.strictEqual(code, 1)
      t.assert.strictEqual(stderr, 'tollgate: TOLLGATE_LOG_LEVEL: must be one of fatal, error, warn, info, debug, trace, silent, not "loud"\n')
      t.assert.strictEqual(stdout, '')
    })
  ])
})
