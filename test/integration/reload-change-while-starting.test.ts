/**
 * A change that lands while the sidecar starts (issue 19 part 1): the file
 * is read first, then the store connects, tracing loads and the listener
 * opens, and only then is the folder watched. A ConfigMap or a Secret
 * swapped in that window was heard by no one; the reloader, once watching,
 * finds the files differ from what was loaded and reloads, rather than
 * serving the old config until some later change.
 */
import { writeFileSync } from 'node:fs'
import { test, type TestContext } from 'node:test'
import { loadConfigFile } from '../../src/config/load.js'
import { startReloader } from '../../src/ops/reload.js'
import { buildServer, type Sidecar } from '../../src/server.js'
import { fakeTimers } from '../helpers/fake-timers.js'
import { fixtureDir } from '../helpers/fixtures.js'
import { eventually } from '../helpers/hostile.js'
import { logSink } from '../helpers/log-sink.js'
import { startOrigin } from '../helpers/origin.js'
import { listenFromFile } from '../helpers/reload.js'

const TOKENS = ['starting-token-first-1111', 'starting-token-second-2222']

for (const what of ['config file', 'secret file'] as const) {
  test(`a ${what} changed between the load and the watch is taken up once watching`, { timeout: 30_000 }, async (t: TestContext) => {
    const origin = await startOrigin(t, (req, res) => { req.resume(); res.end(`${req.headers.authorization ?? ''} ${req.headers['x-version'] ?? '-'}`) })
    const dir = fixtureDir(t)
    const yaml = (version: string): string => `log: { level: info }\nupstreams:\n  vendor:\n    target: ${origin.url}\n    headers: { X-Version: "${version}" }\n    auth:\n      type: static_bearer\n      token: \${file:token}\n`
    const file = dir.write('tollgate.yaml', yaml('1'))
    const secret = dir.write('token', `${TOKENS[0] as string}\n`)
    const { sidecar, url, loaded, logs } = await listenFromFile(t, file)

    // While it started: the change, before anything watches.
    if (what === 'config file') writeFileSync(file, yaml('2'))
    else writeFileSync(secret, `${TOKENS[1] as string}\n`)
    const reloader = startReloader({ sidecar, file, fileConfig: loaded.config, files: loaded.files, flags: {}, env: {}, debounceMs: 50 })
    t.after(() => reloader.stop())

    t.assert.ok(await eventually(() => sidecar.configState.generation === 2, 5000), 'the change made while starting was not taken up within 5 s')
    const expected = what === 'config file' ? `Bearer ${TOKENS[0] as string} 2` : `Bearer ${TOKENS[1] as string} 1`
    t.assert.strictEqual(await (await fetch(`${url}/vendor/x`)).text(), expected)
    for (const token of TOKENS) t.assert.ok(!logs.text().includes(token), 'a token reached the log')
  })
}

test('nothing changed while starting: no reload', { timeout: 30_000 }, async (t: TestContext) => {
  const origin = await startOrigin(t)
  const file = fixtureDir(t).write('tollgate.yaml', `log: { level: info }\nupstreams:\n  vendor:\n    target: ${origin.url}\n`)
  const loaded = loadConfigFile(file)
  if (loaded.issues !== undefined) throw new Error('fixture invalid')
  const sidecar = await buildServer(loaded.config, { logStream: logSink().stream, interpolated: loaded.interpolated })
  t.after(() => sidecar.app.close())
  // Every reload or rejection the reloader starts is counted when it starts (not when it ends): none may.
  const started: string[] = []
  const counted: Pick<Sidecar, 'reload' | 'reject' | 'logger'> = {
    logger: sidecar.logger,
    reject: (problems, options) => { started.push(`reject ${options?.reason ?? ''}`); return sidecar.reject(problems, options) },
    reload: async (next, options) => { started.push(`reload ${options?.reason ?? ''}`); return await sidecar.reload(next, options) }
  }
  const timers = fakeTimers()
  const reloader = startReloader({ sidecar: counted, file, fileConfig: loaded.config, files: loaded.files, flags: {}, env: {}, debounceMs: 50, timers })
  t.after(() => reloader.stop())
  // Past the look the reloader takes once it watches; a reload it started would be under way by the next turn.
  timers.advance(50)
  await new Promise((resolve) => setImmediate(resolve))
  t.assert.deepStrictEqual(started, [])
  t.assert.strictEqual(timers.pending(), 0)
  t.assert.strictEqual(sidecar.configState.status().lastReload, null, 'no reload ran')
})
