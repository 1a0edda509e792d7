/**
 * Memory per queued request: a limit of 1 per 60 s, the one unit spent, then
 * `count` requests held open so they all wait in the limiter queue. Heap
 * (after forced GCs, from inside) and RSS (from /proc) before, loaded, and
 * after every client went away, which also checks that aborted waiters
 * leave the queue and free their memory.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { procMemory, startChild } from './proc.js'
import { PREFIX, startTollgate, tollgateConfig, type Bench, type TargetStatus } from './setup.js'

export interface MemoryPoint {
  readonly heapUsed: number
  readonly external: number
  readonly rss: number
}

export interface QueueSummary {
  readonly count: number
  readonly queued: number
  readonly queuedAfterAbort: number
  readonly before: MemoryPoint
  readonly loaded: MemoryPoint
  readonly after: MemoryPoint
  readonly heapPerRequest: number
  readonly rssPerRequest: number
  readonly fillMs: number
}

async function until (what: string, timeoutMs: number, check: () => Promise<boolean>): Promise<void> {
  const deadline = performance.now() + timeoutMs
  while (!await check()) {
    if (performance.now() > deadline) throw new Error(`queue scenario: ${what} not reached within ${timeoutMs} ms`)
    await sleep(50)
  }
}

export async function runQueue (bench: Bench): Promise<QueueSummary> {
  const count = bench.settings.quick ? 1000 : 10_000
  const tollgate = await startTollgate(bench, tollgateConfig(bench.upstream.ready, {
    rateLimit: { requests: 1, window: '60s', maxQueue: 20_000, maxWait: '60s' }
  }))
  const client = await startChild(bench.main.outDir, 'hold-client')
  const queued = async (): Promise<number> => (await tollgate.call<TargetStatus>('status')).limiter.queued
  const measure = async (): Promise<MemoryPoint> => {
    const usage = await tollgate.call<NodeJS.MemoryUsage>('mem', { gc: true })
    return { heapUsed: usage.heapUsed, external: usage.external, rss: procMemory(tollgate.pid).rss }
  }
  try {
    // Spends the window's one unit (and fetches the token), so everything after it queues.
    const first = await fetch(`${tollgate.ready.url}${PREFIX}/small`)
    await first.arrayBuffer()
    const before = await measure()
    const t0 = performance.now()
    await client.call('open', { url: `${tollgate.ready.url}${PREFIX}/small`, count }, 60_000)
    await until(`${count} queued`, 60_000, async () => await queued() >= count)
    const fillMs = performance.now() - t0
    const loaded = await measure()
    const depth = await queued()
    await client.call('abort')
    await until('an empty queue after the clients left', 20_000, async () => await queued() === 0)
    // Closed sockets finish closing on later turns of the loop.
    await sleep(500)
    const after = await measure()
    return {
      count,
      queued: depth,
      queuedAfterAbort: await queued(),
      before,
      loaded,
      after,
      heapPerRequest: (loaded.heapUsed - before.heapUsed) / count,
      rssPerRequest: (loaded.rss - before.rss) / count,
      fillMs
    }
  } finally {
    await client.stop()
    await tollgate.stop()
  }
}
