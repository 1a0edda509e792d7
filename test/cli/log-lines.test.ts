import { test, type TestContext } from 'node:test'
import { startCli } from '../helpers/cli-process.js'
import { fixtureDir } from '../helpers/fixtures.js'
import { startOrigin } from '../helpers/origin.js'

// Log lines are written in batches (src/logger.ts): a quiet sidecar must still show each line soon, not at exit.
test('a request\'s log line reaches stdout within a moment while the sidecar keeps running', async (t: TestContext) => {
  const origin = await startOrigin(t, (_req, res) => { res.end('ok') })
  const config = fixtureDir(t).write('tollgate.yaml', `server:\n  port: 0\nupstreams:\n  quiet:\n    target: ${origin.url}\n`)
  const cli = startCli(t, ['--config', config])
  const [, port] = await cli.waitForStdout(/listening at http:\/\/127\.0\.0\.1:(\d+)/)

  const sentAt = performance.now()
  const res = await fetch(`http://127.0.0.1:${port}/quiet/patients`, { headers: { 'x-request-id': 'log-line-check' } })
  t.assert.strictEqual(res.status, 200)
  await res.text()
  let timer: NodeJS.Timeout | undefined
  const line = await Promise.race([
    cli.waitForStdout(/\{[^\n]*"requestId":"log-line-check"[^\n]*\}/),
    new Promise<never>((_resolve, reject) => { timer = setTimeout(() => reject(new Error(`no log line 3 s after the request; stdout so far:\n${cli.stdout()}`)), 3000) })
  ]).finally(() => clearTimeout(timer))
  const waited = performance.now() - sentAt
  const entry = JSON.parse(line[0]) as Record<string, unknown>
  t.assert.deepStrictEqual([entry.msg, entry.upstream, entry.path, entry.status], ['request completed', 'quiet', '/quiet/patients', 200])
  t.assert.strictEqual(cli.child.exitCode, null, 'still running: the line was not flushed by an exit')
  t.assert.ok(waited < 2000, `the line came ${Math.round(waited)} ms after the request`)
})
