/**
 * A sidecar with nothing to do sleeps: once it has started (and written
 * its startup lines) and answered a probe, none of its threads runs again
 * while no request comes. Before, it woke about 110 times a second: the
 * event-loop delay monitor of prom-client's default metrics (100), the log
 * destination's periodic flush (5) and Node's connection checker (1)
 * (docs/benchmarks.md, *Footprint*). Counted from the kernel's own account:
 * the time slices each thread began (/proc/PID/task/<tid>/schedstat).
 * Changes beside the config's folder must not wake it either: only the
 * config's own folder is watched (src/ops/dir-watch.ts).
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { startCli } from '../helpers/cli-process.js'
import { fixtureDir } from '../helpers/fixtures.js'
import { startOrigin } from '../helpers/origin.js'

const QUIET_MS = 2000

/** Time slices begun so far by each thread of `pid`, by thread name. */
function slices (pid: number): Map<string, number> {
  const out = new Map<string, number>()
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const name = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim()
      out.set(name, (out.get(name) ?? 0) + Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').trim().split(' ')[2]))
    } catch {} // a thread that ended between the listing and the read
  }
  return out
}

test('an idle sidecar sleeps: no thread runs while nothing comes', { skip: process.platform !== 'linux' && 'reads /proc' }, async (t: TestContext) => {
  t.plan(2)
  const origin = await startOrigin(t)
  const dir = fixtureDir(t)
  // In a folder of its own: its parent (busy below, as /tmp or a home directory is) is not watched.
  mkdirSync(join(dir.dir, 'conf'))
  const config = dir.write('conf/tollgate.yaml', `server:\n  port: 0\nlog:\n  level: info\nupstreams:\n  a:\n    target: ${origin.url}\n    auth:\n      type: static_bearer\n      token: idle-test-token-value\n`)
  const cli = startCli(t, ['--config', config])
  const [, port] = await cli.waitForStdout(/listening at http:\/\/127\.0\.0\.1:(\d+)/)
  await cli.waitForStdout(/"msg":"started"/)
  const probe = await fetch(`http://127.0.0.1:${port}/healthz`, { headers: { connection: 'close' } })
  t.assert.strictEqual(probe.status, 200)
  await probe.arrayBuffer()
  // Startup's last work settles (its log lines' flush, the probe's connection closing, the compiler's background jobs).
  await new Promise((resolve) => setTimeout(resolve, 1500))
  const pid = cli.child.pid as number
  const before = slices(pid)
  // Files come and go beside the config's folder meanwhile: none of it is the sidecar's business.
  const busy = setInterval(() => {
    const other = join(dir.dir, `other-${Date.now()}`)
    writeFileSync(other, 'x')
    rmSync(other)
  }, 100)
  await new Promise((resolve) => setTimeout(resolve, QUIET_MS))
  clearInterval(busy)
  const woken = [...slices(pid)].map(([name, count]) => [name, count - (before.get(name) ?? 0)] as const).filter(([, count]) => count > 0)
  const total = woken.reduce((sum, [, count]) => sum + count, 0)
  t.assert.ok(total <= 6, `its threads ran ${total} times in ${QUIET_MS} ms of silence: ${woken.map(([name, count]) => `${name} ${count}`).join(', ')}`)
})
