import { createHook } from 'node:async_hooks'
import { execFileSync, spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { LOG_BATCH_BYTES, LOG_FLUSH_MS, logDestination } from '../../src/log-destination.js'

test('batched lines reach the file whole and in order, the last partial batch included', async (t: TestContext) => {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-log-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const file = join(dir, 'out.log')
  const destination = logDestination(file) as ReturnType<typeof logDestination> & { flush (): void }
  // Several full batches and a partial one.
  const lines = Array.from({ length: Math.ceil(LOG_BATCH_BYTES / 20) * 3 + 7 }, (_, i) => `{"line":${i}}\n`)
  for (const line of lines) destination.write(line)
  destination.flush()
  const expected = lines.join('')
  const read = (): string => { try { return readFileSync(file, 'utf8') } catch { return '' } }
  const deadline = performance.now() + 2000
  while (read().length < expected.length && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5))
  t.assert.strictEqual(read(), expected)
})

// The exit path: what is still gathered must reach the file synchronously (process 'exit' allows nothing else).
test('flushSync() writes the lines still gathered, before it returns', async (t: TestContext) => {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-log-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const file = join(dir, 'out.log')
  const destination = logDestination(file) as ReturnType<typeof logDestination> & { flushSync (): void }
  // sonic-boom opens a path asynchronously; a synchronous write needs the file open.
  const deadline = performance.now() + 2000
  while (!existsSync(file) && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5))
  await new Promise((resolve) => setTimeout(resolve, 20))
  const lines = ['{"a":1}\n', '{"b":2}\n', '{"c":3}\n']
  for (const line of lines) destination.write(line)
  t.assert.strictEqual(readFileSync(file, 'utf8'), '', 'a partial batch waits')
  destination.flushSync()
  t.assert.strictEqual(readFileSync(file, 'utf8'), lines.join(''))
})

// Counts every Timeout's callbacks (ref'd or not): what would wake an idle sidecar.
const timeouts = new Set<number>()
let fired = 0
createHook({
  init (id, type) { if (type === 'Timeout') timeouts.add(id) },
  before (id) { if (timeouts.has(id)) fired++ },
  destroy (id) { timeouts.delete(id) }
}).enable()

async function fileHolds (file: string, expected: string, withinMs: number): Promise<boolean> {
  const deadline = performance.now() + withinMs
  const read = (): string => { try { return readFileSync(file, 'utf8') } catch { return '' } }
  while (read() !== expected && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5))
  return read() === expected
}

test('a line short of a batch comes out within LOG_FLUSH_MS, and then no timer runs while nothing is logged', async (t: TestContext) => {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-log-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const file = join(dir, 'out.log')
  const destination = logDestination(file)
  destination.write('{"msg":"started"}\n')
  t.assert.ok(await fileHolds(file, '{"msg":"started"}\n', LOG_FLUSH_MS + 1000), 'the line never came out')
  // sonic-boom's periodicFlush would fire 1000 / 200 = 5 times here, for ever.
  const before = fired
  await new Promise((resolve) => setTimeout(resolve, 1000))
  t.assert.ok(fired - before <= 1, `${fired - before - 1} timer callback(s) besides this test's own in 1 s of silence`)
})

test('a line that comes while a batch is still being written is not left behind', { skip: process.platform === 'win32' && 'mkfifo' }, async (t: TestContext) => {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-log-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const fifo = join(dir, 'pipe')
  const file = join(dir, 'out.log')
  execFileSync('mkfifo', [fifo])
  // A reader that opens the pipe at once but reads nothing for READ_AFTER_MS: a batch bigger
  // than the pipe holds stays in flight until then, and the timer's flush meanwhile does nothing.
  const READ_AFTER_MS = 4 * LOG_FLUSH_MS
  const reader = spawn('sh', ['-c', `exec 3<"$0"; sleep ${READ_AFTER_MS / 1000}; cat <&3 > "$1"`, fifo, file], { stdio: 'ignore' })
  t.after(() => reader.kill())
  const destination = logDestination(fifo) as ReturnType<typeof logDestination> & { end (): void }
  t.after(() => destination.end())
  await new Promise((resolve) => setTimeout(resolve, LOG_FLUSH_MS / 2))
  const big = `{"pad":"${'x'.repeat(128 * 1024)}"}\n`
  destination.write(big)
  await new Promise((resolve) => setTimeout(resolve, LOG_FLUSH_MS / 2))
  destination.write('{"msg":"last"}\n')
  t.assert.ok(await fileHolds(file, `${big}{"msg":"last"}\n`, READ_AFTER_MS + 3 * LOG_FLUSH_MS + 2000), 'the line after the batch stayed behind')
})
