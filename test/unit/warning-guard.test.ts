/**
 * The warning guard (test/helpers/warning-guard.ts) fails a test file that
 * raises a warning off its allow-list, and lets an allowed one pass.
 */
import { spawnSync } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { fileURLToPath } from 'node:url'

const guard = fileURLToPath(new URL('../helpers/warning-guard.ts', import.meta.url))

function runWithGuard (body: string): number | null {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-guard-'))
  const file = join(dir, 'probe.test.mjs')
  writeFileSync(file, `import { test } from 'node:test'\nimport { EventEmitter } from 'node:events'\ntest('probe', async () => { ${body}; await new Promise((resolve) => setImmediate(resolve)) })\n`)
  // Without NODE_TEST_CONTEXT: else the inner runner reports to ours and exits 0 whatever happened.
  const { NODE_TEST_CONTEXT: _, ...env } = process.env
  return spawnSync(process.execPath, ['--import', 'tsx', '--import', guard, '--test', file], { encoding: 'utf8', timeout: 30_000, env }).status
}

test('a MaxListenersExceededWarning fails the file it is raised in', (t: TestContext) => {
  t.assert.notStrictEqual(runWithGuard("const e = new EventEmitter(); for (let i = 0; i < 11; i++) e.on('close', () => {})"), 0)
})

test('an allowed warning does not', (t: TestContext) => {
  t.assert.strictEqual(runWithGuard("process.emitWarning('The MockTimers API is an experimental feature and might change at any time', 'ExperimentalWarning')"), 0)
})

test('a file without warnings passes', (t: TestContext) => {
  t.assert.strictEqual(runWithGuard(''), 0)
})
