/**
 * The warning guard (test/helpers/warning-guard.ts) fails a test file that
 * raises a MaxListenersExceededWarning, a warning from tollgate's own code
 * (allowed or not) or a warning off its allow-list, even when its tests
 * passed and whatever exit code was set since; it lets an allowed one pass.
 */
import { spawnSync } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { fileURLToPath } from 'node:url'
import { verdict } from '../helpers/warning-guard.js'

const guard = fileURLToPath(new URL('../helpers/warning-guard.ts', import.meta.url))

/** The probe's exit status, and what the guard wrote (its stderr reaches the runner's output). */
function runWithGuard (body: string): { status: number | null, output: string } {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-guard-'))
  const file = join(dir, 'probe.test.mjs')
  writeFileSync(file, `import { test } from 'node:test'\nimport { EventEmitter } from 'node:events'\ntest('probe', async () => { ${body}; await new Promise((resolve) => setImmediate(resolve)) })\n`)
  // Without NODE_TEST_CONTEXT: else the inner runner reports to ours and exits 0 whatever happened.
  const { NODE_TEST_CONTEXT: _, ...env } = process.env
  const run = spawnSync(process.execPath, ['--import', 'tsx', '--import', guard, '--test', '--test-reporter=tap', file], { encoding: 'utf8', timeout: 30_000, env })
  return { status: run.status, output: `${run.stdout}${run.stderr}` }
}

/** The probe failed, because of the guard, for this reason. */
function assertFailed (t: TestContext, run: { status: number | null, output: string }, reason: RegExp): void {
  t.assert.notStrictEqual(run.status, 0, run.output)
  t.assert.match(run.output, /# pass 1/, 'its test passed: the guard failed the file')
  t.assert.match(run.output, reason)
}

test('a MaxListenersExceededWarning fails the file it is raised in', (t: TestContext) => {
  assertFailed(t, runWithGuard("const e = new EventEmitter(); for (let i = 0; i < 11; i++) e.on('close', () => {})"), /warning-guard: a MaxListenersExceededWarning is never allowed/)
})

test('an allowed warning does not', (t: TestContext) => {
  t.assert.strictEqual(runWithGuard("process.emitWarning('The MockTimers API is an experimental feature and might change at any time', 'ExperimentalWarning')").status, 0)
})

test('a file without warnings passes', (t: TestContext) => {
  t.assert.strictEqual(runWithGuard('').status, 0)
})

test('a warning off the allow-list fails the file, even when the test sets exit code 0 after it', (t: TestContext) => {
  assertFailed(t, runWithGuard("process.emitWarning('some API is going away', { type: 'DeprecationWarning', code: 'DEP0999' }); await new Promise((resolve) => setImmediate(resolve)); process.exitCode = 0"), /warning-guard: a warning not on the allow-list/)
})

test('an allowed warning raised from tollgate\'s own code fails the file', (t: TestContext) => {
  // The allowed name and message, with a stack through src/ (as if tollgate itself had raised it).
  const src = fileURLToPath(new URL('../../src/proxy/exchange.ts', import.meta.url))
  const raise = `const w = new Error('The MockTimers API is an experimental feature and might change at any time'); w.name = 'ExperimentalWarning'; w.stack = 'ExperimentalWarning: ' + w.message + '\\n    at Exchange.prepare (${src}:1:1)'; process.emitWarning(w)`
  assertFailed(t, runWithGuard(raise), /warning-guard: a warning raised from tollgate's own code \(at Exchange\.prepare/)
})

test('the verdicts: MaxListeners never allowed; own code never allowed; the allow-list matches name, code and message', (t: TestContext) => {
  const warning = (name: string, message: string, code?: string, frame = '/somewhere/node_modules/pkg/index.js:1:1'): Error & { code?: string | undefined } =>
    Object.assign(new Error(message), { name, code, stack: `${name}: ${message}\n    at f (${frame})` })
  const src = fileURLToPath(new URL('../../src/store/redis-client.ts', import.meta.url))
  t.assert.match(verdict(warning('MaxListenersExceededWarning', '11 close listeners added to [Socket]')) ?? '', /never allowed/)
  t.assert.match(verdict(warning('DeprecationWarning', 'x', 'DEP0001', `${src}:9:9`)) ?? '', /tollgate's own code \(at f \(.*src\/store\/redis-client\.ts:9:9\)\)/)
  t.assert.strictEqual(verdict(warning('ExperimentalWarning', 'The MockTimers API is an experimental feature and might change at any time')), undefined)
  t.assert.match(verdict(warning('ExperimentalWarning', 'The MockTimers API is an experimental feature', 'SOME_CODE')) ?? '', /not on the allow-list/, 'the code must match too')
  t.assert.match(verdict(warning('ExperimentalWarning', 'VM Modules is an experimental feature')) ?? '', /not on the allow-list/)
})
