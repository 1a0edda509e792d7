/**
 * libuv's thread pool (four threads, each with its stack and, once it
 * allocates, a malloc arena) starts on its first job and never stops. A
 * sidecar whose upstream is an IP address has no job for it: it reads its
 * config and secrets synchronously, writes its logs synchronously, and
 * connects without a DNS lookup. The log flush after the startup lines was
 * such a job: sonic-boom's flush fsyncs through the pool, on stdout, a pipe,
 * where fsync fails (src/log-destination.ts). A vendor named by host name
 * starts the pool at its first lookup, as every Node process does.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { test, type TestContext } from 'node:test'
import { startCli } from '../helpers/cli-process.js'
import { fixtureDir } from '../helpers/fixtures.js'
import { startOrigin } from '../helpers/origin.js'

function threadNames (pid: number): string[] {
  return readdirSync(`/proc/${pid}/task`).flatMap((tid) => {
    try {
      return [readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim()]
    } catch {
      return [] // a thread that ended between the listing and the read
    }
  })
}

test('started and proxying to an IP address, the sidecar has not started libuv\'s thread pool', { skip: process.platform !== 'linux' && 'reads /proc' }, async (t: TestContext) => {
  t.plan(3)
  const origin = await startOrigin(t)
  t.assert.match(origin.url, /^http:\/\/127\.0\.0\.1:/)
  const config = fixtureDir(t).write('tollgate.yaml', `server:\n  port: 0\nlog:\n  level: info\nupstreams:\n  a:\n    target: ${origin.url}\n    auth:\n      type: static_bearer\n      token: thread-pool-test-token\n`)
  const cli = startCli(t, ['--config', config])
  const [, port] = await cli.waitForStdout(/listening at http:\/\/127\.0\.0\.1:(\d+)/)
  await cli.waitForStdout(/"msg":"started"/)
  const res = await fetch(`http://127.0.0.1:${port}/a/Patient`)
  t.assert.strictEqual(res.status, 200)
  await res.arrayBuffer()
  // The request's log line and the startup lines' flushes have run by now.
  await new Promise((resolve) => setTimeout(resolve, 500))
  const names = threadNames(cli.child.pid as number)
  t.assert.deepStrictEqual(names.filter((name) => name === 'libuv-worker'), [], `threads: ${names.join(', ')}`)
})
