/**
 * bench/paced.ts in turns (`sliceMs`): the footprint scenario loads each proxy
 * alone, the targets taking turns, so that none queues behind another's work
 * on a shared CPU. Two loopback origins record when each request arrived: in
 * turns the arrivals come in blocks, one origin's at a time; at once they
 * alternate request by request. Each target gets its full share either way.
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
    execFile(process.execPath, ['--import', 'tsx', paced, JSON.stringify(options)], { timeout: 30_000 }, (err, stdout) => {
      if (err !== null) reject(err)
      else resolve(JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as LoadResult[])
    })
  })
}

/** How often the origin of consecutive arrivals (both origins' requests, in time order) changes. */
function switches (a: Origin, b: Origin): number {
  const arrivals = [...a.requests.map((r) => ({ at: r.startedAt, of: 'a' })), ...b.requests.map((r) => ({ at: r.startedAt, of: 'b' }))]
    .sort((x, y) => x.at - y.at)
  return arrivals.filter((r, i) => i > 0 && r.of !== arrivals[i - 1]?.of).length
}

test('in turns, each target is loaded alone for its turn, and for its full share', async (t: TestContext) => {
  const a = await startOrigin(t)
  const b = await startOrigin(t)
  // 200 req/s, 0.6 s each in turns of 150 ms: 8 turns, 120 requests to each.
  const results = await runPaced({ urls: [a.url, b.url], connections: 2, rate: 200, durationS: 0.6, sliceMs: 150 })
  // One warm-up request per connection comes first, at once; the turns follow.
  const warm = 2
  t.assert.deepStrictEqual(results.map((r) => r.ok), [120, 120])
  t.assert.deepStrictEqual([a.requests.length, b.requests.length], [120 + warm, 120 + warm])
  for (const r of results) t.assert.strictEqual(r.elapsedMs, 600)
  // 7 changes of turn, and some arrivals crossing at a turn's edge (the warm-up's, a busy machine's):
  // far from the 239 of the same load at once.
  const changes = switches(a, b)
  t.assert.ok(changes >= 7 && changes <= 40, `origins changed ${changes} times`)
})

test('at once (no turns), the targets alternate request by request', async (t: TestContext) => {
  const a = await startOrigin(t)
  const b = await startOrigin(t)
  const results = await runPaced({ urls: [a.url, b.url], connections: 2, rate: 200, durationS: 0.3 })
  t.assert.deepStrictEqual(results.map((r) => r.ok), [60, 60])
  const changes = switches(a, b)
  t.assert.ok(changes > 50, `origins changed only ${changes} times`)
})
