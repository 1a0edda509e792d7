/**
 * A config folder that is not there: its parent is watched for it to come
 * (and a change there is heard); when the parent is missing too, nothing
 * can be watched, and that is said (the reloader logs it: changes there
 * need a SIGHUP). Real folders, real inotify.
 */
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { watchFiles } from '../../src/ops/dir-watch.js'
import { fixtureDir } from '../helpers/fixtures.js'
import { eventually } from '../helpers/hostile.js'

test('a missing folder is watched through its parent: its coming is heard', async (t: TestContext) => {
  const root = fixtureDir(t).dir
  let changes = 0
  const errors: string[] = []
  const watch = watchFiles([join(root, 'conf', 'tollgate.yaml')], () => { changes++ }, { debounceMs: 10, onError: (dir) => { errors.push(dir) } })
  t.after(() => watch.stop())
  mkdirSync(join(root, 'conf'))
  t.assert.ok(await eventually(() => changes > 0, 3000), 'the folder\'s coming was not heard')
  t.assert.deepStrictEqual(errors, [])
})

test('a missing folder whose parent is missing too: said, not silently unwatched', (t: TestContext) => {
  const root = fixtureDir(t).dir
  const errors: string[] = []
  const watch = watchFiles([join(root, 'a', 'conf', 'tollgate.yaml')], () => {}, { debounceMs: 10, onError: (dir) => { errors.push(dir) } })
  t.after(() => watch.stop())
  t.assert.deepStrictEqual(errors, [join(root, 'a')])
})
