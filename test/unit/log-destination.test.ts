import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
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
