import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { LOG_BATCH_BYTES, logDestination } from '../../src/log-destination.js'

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
