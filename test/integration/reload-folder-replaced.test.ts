/**
 * The config's folder itself replaced (issue 19 part 1): removed and made
 * again (`rm -rf conf && mkdir conf && cp …`), or reached through a symlink
 * that a deploy points at a new release folder (`ln -sfn releases/2
 * current`). A watch on the old folder hears nothing more once it is gone:
 * the folder is watched through its parent too, and a new folder gets a new
 * watch, so the new config and every later edit of it are picked up without
 * a SIGHUP.
 */
import { mkdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { startReloader } from '../../src/ops/reload.js'
import { fixtureDir } from '../helpers/fixtures.js'
import { eventually } from '../helpers/hostile.js'
import { startOrigin } from '../helpers/origin.js'
import { listenFromFile } from '../helpers/reload.js'

const DEBOUNCE_MS = 50

async function rig (t: TestContext, file: string): Promise<{ answer: () => Promise<string>, generation: (n: number) => Promise<boolean> }> {
  const { sidecar, url, loaded } = await listenFromFile(t, file)
  const reloader = startReloader({ sidecar, file, fileConfig: loaded.config, files: loaded.files, flags: {}, env: {}, debounceMs: DEBOUNCE_MS })
  t.after(() => reloader.stop())
  return {
    answer: async () => await (await fetch(`${url}/vendor/x`)).text(),
    generation: async (n) => await eventually(() => sidecar.configState.generation === n, 5000)
  }
}

test('a config folder removed and made again: the new file and later edits of it reload', { timeout: 30_000 }, async (t: TestContext) => {
  const origin = await startOrigin(t, (req, res) => { req.resume(); res.end(String(req.headers['x-version'] ?? '-')) })
  const folder = join(fixtureDir(t).dir, 'conf')
  const yaml = (version: string): string => `log: { level: info }\nupstreams:\n  vendor:\n    target: ${origin.url}\n    headers: { X-Version: "${version}" }\n`
  mkdirSync(folder)
  const file = join(folder, 'tollgate.yaml')
  writeFileSync(file, yaml('1'))
  const { answer, generation } = await rig(t, file)
  t.assert.strictEqual(await answer(), '1')

  rmSync(folder, { recursive: true })
  // Longer than the debounce: the reload of the missing file runs (and is rejected) before the folder comes back.
  await new Promise((resolve) => setTimeout(resolve, DEBOUNCE_MS * 4))
  mkdirSync(folder)
  // The folder's new watch is in place once its parent's event has been handled.
  await new Promise((resolve) => setTimeout(resolve, DEBOUNCE_MS * 4))
  writeFileSync(file, yaml('2'))
  t.assert.ok(await generation(2), 'the file in the new folder was not picked up within 5 s')
  t.assert.strictEqual(await answer(), '2')

  writeFileSync(file, yaml('3'))
  t.assert.ok(await generation(3), 'an edit in the new folder was not picked up within 5 s')
  t.assert.strictEqual(await answer(), '3')
})

test('a config folder reached through a symlink that is pointed at a new release: the new file and later edits of it reload', { timeout: 30_000 }, async (t: TestContext) => {
  const origin = await startOrigin(t, (req, res) => { req.resume(); res.end(String(req.headers['x-version'] ?? '-')) })
  const root = fixtureDir(t).dir
  const yaml = (version: string): string => `log: { level: info }\nupstreams:\n  vendor:\n    target: ${origin.url}\n    headers: { X-Version: "${version}" }\n`
  const release = (name: string, version: string): void => {
    mkdirSync(join(root, 'releases', name), { recursive: true })
    writeFileSync(join(root, 'releases', name, 'tollgate.yaml'), yaml(version))
  }
  release('1', '1')
  symlinkSync(join('releases', '1'), join(root, 'current'))
  const { answer, generation } = await rig(t, join(root, 'current', 'tollgate.yaml'))
  t.assert.strictEqual(await answer(), '1')

  // As `ln -sfn` and deploy tools do it: a new link beside the old, renamed over it.
  release('2', '2')
  symlinkSync(join('releases', '2'), join(root, 'current.tmp'))
  renameSync(join(root, 'current.tmp'), join(root, 'current'))
  t.assert.ok(await generation(2), 'the swapped folder link was not picked up within 5 s')
  t.assert.strictEqual(await answer(), '2')

  writeFileSync(join(root, 'releases', '2', 'tollgate.yaml'), yaml('3'))
  t.assert.ok(await generation(3), 'an edit in the new release was not picked up within 5 s')
  t.assert.strictEqual(await answer(), '3')
})
