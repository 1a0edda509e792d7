/**
 * SIGHUP and a changed config file reload `tollgate --config` (issue 19
 * part 1): the flags and TOLLGATE_* variables keep winning, and the file
 * changes they hide are reported as overridden; an invalid file is
 * rejected, the sidecar serving on; SIGTERM still drains. The demo and the
 * sandbox, which have no config file, ignore SIGHUP with one info line.
 */
import { writeFileSync } from 'node:fs'
import { test, type TestContext } from 'node:test'
import { startCli } from '../helpers/cli-process.js'
import { fixtureDir } from '../helpers/fixtures.js'
import { startOrigin } from '../helpers/origin.js'
import { freePort } from '../helpers/ports.js'

test('tollgate --config: SIGHUP and a file change reload, the flags keep winning (overridden), a bad file is rejected and the sidecar serves on', { timeout: 60_000 }, async (t: TestContext) => {
  const origin = await startOrigin(t, (req, res) => { req.resume(); res.end(String(req.headers['x-version'] ?? '-')) })
  const [filePort, flagPort, otherPort] = [await freePort(), await freePort(), await freePort()]
  const yaml = (port: number, level: string, version: string): string => `server:\n  port: ${port}\n  shutdownGrace: 1s\nlog:\n  level: ${level}\nupstreams:\n  a:\n    target: ${origin.url}\n    headers: { X-Version: "${version}" }\n`
  const file = fixtureDir(t).write('tollgate.yaml', yaml(filePort, 'info', '1'))
  const cli = startCli(t, ['--config', file, '--port', String(flagPort)], { TOLLGATE_LOG_LEVEL: 'info' })
  await cli.waitForStdout(/"msg":"started"/)
  const get = async (): Promise<[number, string]> => {
    const res = await fetch(`http://127.0.0.1:${flagPort}/a/x`)
    return [res.status, await res.text()]
  }
  t.assert.deepStrictEqual(await get(), [200, '1'])
  const line = async (pattern: RegExp): Promise<Record<string, unknown>> => JSON.parse((await cli.waitForStdout(pattern))[0]) as Record<string, unknown>

  cli.child.kill('SIGHUP')
  const unchanged = await line(/\{[^\n]*"msg":"config reloaded: nothing to change"[^\n]*\}/)
  t.assert.deepStrictEqual([unchanged.reason, unchanged.result, unchanged.generation], ['SIGHUP', 'applied', 1])

  // server.port and log.level change in the file, under --port and TOLLGATE_LOG_LEVEL; the header applies.
  writeFileSync(file, yaml(otherPort, 'debug', '2'))
  const reloaded = await line(/\{[^\n]*"msg":"config reloaded"[^\n]*\}/)
  t.assert.deepStrictEqual([reloaded.reason, reloaded.generation, reloaded.overridden, reloaded.restartNeeded], ['config file changed', 2, ['server.port', 'log.level'], undefined])
  t.assert.deepStrictEqual(await get(), [200, '2'], 'still on --port, with the new header')
  const status = await (await fetch(`http://127.0.0.1:${flagPort}/status`)).json() as { config: { generation: number, lastReload: { overridden: string[] } } }
  t.assert.deepStrictEqual([status.config.generation, status.config.lastReload.overridden], [2, ['server.port', 'log.level']])
  t.assert.doesNotMatch(cli.stdout(), /"level":20/, 'TOLLGATE_LOG_LEVEL=info still wins: no debug line')

  // An invalid file: rejected, every problem by its path; the sidecar serves on.
  writeFileSync(file, yaml(filePort, 'info', '3').replace('shutdownGrace: 1s', 'shutdownGrace: soon'))
  const rejected = await line(/\{[^\n]*"msg":"config reload rejected: the running config keeps serving"[^\n]*\}/)
  t.assert.deepStrictEqual(rejected.problems, [{ path: 'server.shutdownGrace', message: (rejected.problems as Array<{ message: string }>)[0]?.message }])
  t.assert.deepStrictEqual(await get(), [200, '2'])

  cli.child.kill('SIGTERM')
  const { code, signal } = await cli.exited
  t.assert.deepStrictEqual({ code, signal }, { code: 0, signal: null }, cli.stderr())
  t.assert.match(cli.stdout(), /"msg":"stopped"/)
})

test('the demo and the sandbox ignore SIGHUP with one info line each and keep running', { timeout: 60_000 }, async (t: TestContext) => {
  await Promise.all([
    t.test('demo', async (t: TestContext) => {
      const cli = startCli(t, ['demo', '--port', String(await freePort())])
      await cli.waitForStdout(/"msg":"demo mode/)
      cli.child.kill('SIGHUP')
      const [line] = await cli.waitForStdout(/\{[^\n]*SIGHUP ignored[^\n]*\}/)
      const entry = JSON.parse(line) as Record<string, unknown>
      t.assert.deepStrictEqual([entry.level, entry.msg], [30, 'SIGHUP ignored: the demo has no config file to reload'])
      cli.child.kill('SIGTERM')
      t.assert.strictEqual((await cli.exited).code, 0, cli.stderr())
      t.assert.strictEqual(cli.stdout().split('SIGHUP ignored').length - 1, 1, 'one line per SIGHUP')
    }),
    t.test('sandbox', async (t: TestContext) => {
      const cli = startCli(t, ['sandbox', '--port', '0'])
      const [, url] = await cli.waitForStdout(/listening on (http:\/\/127\.0\.0\.1:\d+)/)
      cli.child.kill('SIGHUP')
      await cli.waitForStdout(/tollgate sandbox: SIGHUP ignored: the sandbox has no config file to reload\n/)
      t.assert.strictEqual((await fetch(`${url ?? ''}/halaxy/main/Patient`)).status, 401, 'still serving: the fake vendor asks for a token')
      cli.child.kill('SIGTERM')
      t.assert.strictEqual((await cli.exited).code, 0, cli.stderr())
      t.assert.strictEqual(cli.stderr(), '', 'nothing on stderr')
    })
  ])
})
