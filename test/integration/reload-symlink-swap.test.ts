/**
 * The config file watched through its folder (issue 19 parts 1 and 4):
 * Kubernetes updates a ConfigMap or Secret volume by writing a new
 * timestamped folder and renaming a `..data_tmp` symlink over `..data`
 * (pkg/volume/util/atomic_writer.go); the file names the app reads are
 * symlinks through `..data` and never change themselves. An editor saves by
 * renaming a new file over the old. Both reload; a touch that changes no
 * content does not.
 */
import { mkdirSync, renameSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { loadConfigFile } from '../../src/config/load.js'
import { startReloader } from '../../src/ops/reload.js'
import { fixtureDir } from '../helpers/fixtures.js'
import { eventually } from '../helpers/hostile.js'
import { startOrigin } from '../helpers/origin.js'
import { listenFromFile } from '../helpers/reload.js'

const TOKENS = ['swap-token-first-1111', 'swap-token-second-2222']

test('a Kubernetes ..data swap and an editor\'s rename-on-save are picked up; a touch is not', { timeout: 30_000 }, async (t: TestContext) => {
  const origin = await startOrigin(t, (req, res) => { req.resume(); res.end(`${req.headers.authorization ?? ''} ${req.headers['x-version'] ?? '-'}`) })
  const root = fixtureDir(t).dir
  // As kubelet lays a volume out: the real files in a timestamped folder, ..data -> it, each name -> ..data/name.
  const project = (version: string, token: string, stamp: string): void => {
    const folder = join(root, stamp)
    mkdirSync(folder)
    writeFileSync(join(folder, 'tollgate.yaml'), `log: { level: info }\nupstreams:\n  vendor:\n    target: ${origin.url}\n    headers: { X-Version: "${version}" }\n    auth:\n      type: static_bearer\n      token: \${file:token}\n`)
    writeFileSync(join(folder, 'token'), `${token}\n`)
  }
  project('1', TOKENS[0] as string, '..2026_12_01_00_00_00.1')
  symlinkSync('..2026_12_01_00_00_00.1', join(root, '..data'))
  for (const name of ['tollgate.yaml', 'token']) symlinkSync(join('..data', name), join(root, name))
  const file = join(root, 'tollgate.yaml')

  const { sidecar, url, loaded, logs } = await listenFromFile(t, file)
  const reloader = startReloader({ sidecar, file, fileConfig: loaded.config, files: loaded.files, flags: {}, env: {}, debounceMs: 50 })
  t.after(() => reloader.stop())
  const answer = async (): Promise<string> => await (await fetch(`${url}/vendor/x`)).text()
  t.assert.strictEqual(await answer(), `Bearer ${TOKENS[0]} 1`)

  // The swap, as atomic_writer does it.
  project('2', TOKENS[1] as string, '..2026_12_01_00_05_00.2')
  symlinkSync('..2026_12_01_00_05_00.2', join(root, '..data_tmp'))
  renameSync(join(root, '..data_tmp'), join(root, '..data'))
  rmSync(join(root, '..2026_12_01_00_00_00.1'), { recursive: true })
  t.assert.ok(await eventually(() => sidecar.configState.generation === 2, 5000), 'the swap was not picked up within 5 s')
  t.assert.strictEqual(await answer(), `Bearer ${TOKENS[1]} 2`, 'the new config file and the new secret, together')
  const swapped = logs.entries().filter((entry) => entry.msg === 'config reloaded')
  t.assert.strictEqual(swapped.length, 1, 'one reload for the whole swap (debounced)')

  // A touch changes no content: no reload. Then an editor's save (write aside, rename over): one.
  const plain = join(root, 'plain.yaml')
  writeFileSync(plain, `log: { level: info }\nupstreams:\n  vendor:\n    target: ${origin.url}\n    headers: { X-Version: "3" }\n`)
  const plainConfig = loadConfigFile(plain)
  if (plainConfig.issues !== undefined) throw new Error('fixture invalid')
  const editor = startReloader({ sidecar, file: plain, fileConfig: plainConfig.config, files: [], flags: {}, env: {}, debounceMs: 50 })
  t.after(() => editor.stop())
  utimesSync(plain, new Date(), new Date())
  writeFileSync(join(root, '.plain.yaml.swp'), 'an editor\'s swap file')
  writeFileSync(join(root, 'plain.yaml~'), 'x')
  renameSync(join(root, 'plain.yaml~'), join(root, 'plain.yaml.new'))
  await new Promise((resolve) => setTimeout(resolve, 300))
  t.assert.strictEqual(sidecar.configState.generation, 2, 'a touch and files next to it reloaded nothing')
  writeFileSync(join(root, 'plain.yaml.tmp'), `log: { level: info }\nupstreams:\n  vendor:\n    target: ${origin.url}\n    headers: { X-Version: "4" }\n`)
  renameSync(join(root, 'plain.yaml.tmp'), plain)
  t.assert.ok(await eventually(() => sidecar.configState.generation === 3, 5000), 'the rename-on-save was not picked up within 5 s')
  t.assert.strictEqual(await answer(), ' 4')
  t.assert.deepStrictEqual(logs.entries().filter((entry) => entry.msg === 'config reloaded').map((entry) => entry.reason), ['config file changed', 'config file changed'])
  for (const token of TOKENS) t.assert.ok(!logs.text().includes(token), 'a token reached the log')
})
