/**
 * Two Kubernetes volumes updated one just after the other (a Helm upgrade
 * that changes the ConfigMap and the Secret): the ConfigMap's `..data` swap
 * reloads, and the Secret's swap comes while that reload runs. The
 * ConfigMap's file now leads to a new folder, so the reloader watches anew;
 * the Secret's event, heard and waiting for its debounce, must not be lost
 * with the old watch: the new secret is taken up without another event.
 * The debounce's clock is injected.
 */
import { mkdirSync, renameSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { startReloader } from '../../src/ops/reload.js'
import type { Sidecar } from '../../src/server.js'
import { fakeTimers } from '../helpers/fake-timers.js'
import { fixtureDir } from '../helpers/fixtures.js'
import { eventually } from '../helpers/hostile.js'
import { startOrigin } from '../helpers/origin.js'
import { listenFromFile } from '../helpers/reload.js'

const DEBOUNCE_MS = 250
const TOKENS = ['during-token-first-1111', 'during-token-second-2222']

test('a Secret swapped while the ConfigMap\'s swap reloads is taken up too: its event survives the new watch', { timeout: 30_000 }, async (t: TestContext) => {
  const origin = await startOrigin(t, (req, res) => { req.resume(); res.end(`${req.headers.authorization ?? ''} ${req.headers['x-version'] ?? '-'}`) })
  const root = fixtureDir(t).dir
  // Two volumes as kubelet lays them out: real files in a timestamped folder, ..data -> it, each name -> ..data/name.
  const volume = (name: string, files: Record<string, string>, stamp: string, first: boolean): void => {
    const folder = join(root, name, stamp)
    mkdirSync(folder, { recursive: true })
    for (const [file, content] of Object.entries(files)) writeFileSync(join(folder, file), content)
    if (first) {
      symlinkSync(stamp, join(root, name, '..data'))
      for (const file of Object.keys(files)) symlinkSync(join('..data', file), join(root, name, file))
    } else {
      symlinkSync(stamp, join(root, name, '..data_tmp'))
      renameSync(join(root, name, '..data_tmp'), join(root, name, '..data'))
    }
  }
  const yaml = (version: string): string => `log: { level: info }\nupstreams:\n  vendor:\n    target: ${origin.url}\n    headers: { X-Version: "${version}" }\n    auth:\n      type: static_bearer\n      token: \${file:../secret/token}\n`
  volume('config', { 'tollgate.yaml': yaml('1') }, '..2026_12_01_00_00_00.1', true)
  volume('secret', { token: `${TOKENS[0] as string}\n` }, '..2026_12_01_00_00_00.1', true)
  const file = join(root, 'config', 'tollgate.yaml')
  const { sidecar, url, loaded } = await listenFromFile(t, file)
  const answer = async (): Promise<string> => await (await fetch(`${url}/vendor/x`)).text()

  const timers = fakeTimers()
  // The real sidecar; the Secret is swapped once the ConfigMap's reload has read its files, and heard before that reload ends.
  let swapped = false
  const during: Pick<Sidecar, 'reload' | 'reject' | 'logger'> = {
    logger: sidecar.logger,
    reject: (problems, options) => sidecar.reject(problems, options),
    reload: async (next, options) => {
      if (!swapped) {
        swapped = true
        volume('secret', { token: `${TOKENS[1] as string}\n` }, '..2026_12_01_00_05_00.2', false)
        t.assert.ok(await eventually(() => timers.pending() > 0, 5000), 'the Secret\'s swap was not heard within 5 s')
      }
      return await sidecar.reload(next, options)
    }
  }
  const reloader = startReloader({ sidecar: during, file, fileConfig: loaded.config, files: loaded.files, flags: {}, env: {}, debounceMs: DEBOUNCE_MS, timers })
  t.after(() => reloader.stop())
  t.assert.strictEqual(await answer(), `Bearer ${TOKENS[0] as string} 1`)
  // The reloader's own look once it watches (reload.ts: a change made while starting) runs first: nothing pending after it.
  timers.advance(DEBOUNCE_MS)
  t.assert.strictEqual(timers.pending(), 0, 'a debounce was pending before any swap')

  volume('config', { 'tollgate.yaml': yaml('2') }, '..2026_12_01_00_05_00.2', false)
  t.assert.ok(await eventually(() => timers.pending() > 0, 5000), 'the ConfigMap\'s swap was not heard within 5 s')
  timers.advance(DEBOUNCE_MS)
  t.assert.ok(await eventually(() => sidecar.configState.generation === 2, 5000), 'the ConfigMap\'s swap did not reload')
  t.assert.strictEqual(await answer(), `Bearer ${TOKENS[0] as string} 2`, 'the ConfigMap\'s reload read the old secret')

  // The Secret's event, heard during that reload, still runs its reload once its quiet time has passed.
  t.assert.ok(await eventually(() => { timers.advance(DEBOUNCE_MS); return sidecar.configState.generation === 3 }, 3000, 50), 'the Secret swapped during the reload was lost')
  t.assert.strictEqual(await answer(), `Bearer ${TOKENS[1] as string} 2`)
})
