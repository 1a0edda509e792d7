/**
 * bench/paced.ts in turns (`sliceMs`): the footprint scenario loads each proxy
 * alone, the targets taking turns, so that none queues behind another's work
 * on a shared CPU. Each request carries its due time (`markDue`), and two
 * loopback origins record them: in turns, every request an origin gets was
 * due in one of its target's turns; at once, both get one for every due time.
 * Due times, not arrival times: on a busy machine the generator falls behind
 * and sends what is overdue in a burst, whose requests then arrive
 * interleaved whatever the schedule was.
 */
import { execFile } from 'node:child_process'
import { dirname, join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { fileURLToPath } from 'node:url'
import { startOrigin, type Origin } from '../helpers/origin.js'
import type { LoadResult } from '../../bench/load-result.js'

const paced = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bench', 'paced.ts')

async function runPaced (options: Record<string, unknown>): Promise<LoadResult[]> {
  return await new Promise((resolve, reject) => {
    execFile(process.execPath, ['--import', 'tsx', paced, JSON.stringify({ ...options, markDue: true })], { timeout: 60_000 }, (err, stdout) => {
      if (err !== null) reject(err)
      else resolve(JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as LoadResult[])
    })
  })
}

/** The due times (ms from the start) of the paced requests an origin got; the warm-up requests carry none. */
function dueTimes (origin: Origin): number[] {
  return origin.requests.flatMap((r) => typeof r.headers['x-paced-due'] === 'string' ? [Number(r.headers['x-paced-due'])] : [])
}

test('in turns, each target is sent requests only in its own turns, and its full share', async (t: TestContext) => {
  const a = await startOrigin(t)
  const b = await startOrigin(t)
  // 200 req/s, 0.6 s each in turns of 150 ms: 8 turns, 120 requests to each.
  const results = await runPaced({ urls: [a.url, b.url], connections: 2, rate: 200, durationS: 0.6, sliceMs: 150 })
  t.assert.deepStrictEqual(results.map((r) => r.ok), [120, 120])
  for (const r of results) t.assert.strictEqual(r.elapsedMs, 600)
  const turnOf = (due: number): number => Math.floor(due / 150) % 2
  t.assert.deepStrictEqual(dueTimes(a).filter((due) => turnOf(due) !== 0), [], 'a was sent requests in b\'s turns')
  t.assert.deepStrictEqual(dueTimes(b).filter((due) => turnOf(due) !== 1), [], 'b was sent requests in a\'s turns')
  t.assert.deepStrictEqual([dueTimes(a).length, dueTimes(b).length], [120, 120])
  // Four turns each, all of them used.
  t.assert.deepStrictEqual([...new Set(dueTimes(a).map((due) => Math.floor(due / 150)))].sort((x, y) => x - y), [0, 2, 4, 6])
})

test('at once (no turns), both targets are sent a request for every due time', async (t: TestContext) => {
  const a = await startOrigin(t)
  const b = await startOrigin(t)
  const results = await runPaced({ urls: [a.url, b.url], connections: 2, rate: 200, durationS: 0.3 })
  t.assert.deepStrictEqual(results.map((r) => r.ok), [60, 60])
  const sorted = (origin: Origin): number[] => dueTimes(origin).sort((x, y) => x - y)
  t.assert.strictEqual(sorted(a).length, 60)
  t.assert.deepStrictEqual(sorted(a), sorted(b))
})
