/**
 * Open-loop load at a fixed rate, for the added-latency target: requests go
 * out on a fixed schedule over a pool of `connections`, whatever the answers
 * do, and each latency counts from the moment its request was due, so a
 * stall is charged to every request it delayed (no coordinated omission).
 * autocannon cannot do this: its rate limit sends each connection's quota
 * back to back at the start of every second (lib/httpClient.js), a burst
 * that measures queueing. One JSON line on stdout, in load.ts's shape.
 */
import { createHistogram } from 'node:perf_hooks'
import { Pool } from 'undici'
import { childArgument } from './child-ipc.js'
import type { LoadResult } from './load.js'

export interface PacedOptions {
  readonly url: string
  readonly connections: number
  /** Requests per second. */
  readonly rate: number
  readonly durationS: number
}

const { url, connections, rate, durationS } = childArgument<PacedOptions>()
process.on('disconnect', () => process.exit(1))

const target = new URL(url)
const pool = new Pool(target.origin, { connections, pipelining: 1 })
const histogram = createHistogram()
const intervalMs = 1000 / rate
const total = Math.max(1, Math.floor(rate * durationS))
let sent = 0
let settled = 0
let ok = 0
let failed = 0
let started = 0

function send (dueAt: number): void {
  pool.request({ path: target.pathname, method: 'GET' }).then(async (res) => {
    await res.body.dump()
    if (res.statusCode >= 200 && res.statusCode < 300) {
      ok++
      histogram.record(Math.max(1, Math.round((performance.now() - dueAt) * 1000)))
    } else {
      failed++
    }
  }, () => { failed++ }).finally(() => {
    if (++settled === total) finish()
  })
}

function tick (): void {
  const now = performance.now()
  while (sent < total && started + sent * intervalMs <= now) send(started + sent++ * intervalMs)
  if (sent < total) setTimeout(tick, Math.max(0, started + sent * intervalMs - performance.now()))
}

function finish (): void {
  const elapsedMs = performance.now() - started
  const ms = (p: number): number => ok === 0 ? NaN : histogram.percentile(p) / 1000
  const out: LoadResult = {
    responses: ok + failed,
    ok,
    non2xx: failed,
    errors: 0,
    timeouts: 0,
    elapsedMs,
    rps: ok / (elapsedMs / 1000),
    p50: ms(50),
    p99: ms(99),
    p999: ms(99.9),
    max: ok === 0 ? NaN : histogram.max / 1000,
    cpuUs: (({ user, system }) => user + system)(process.cpuUsage())
  }
  pool.destroy().finally(() => process.stdout.write(`${JSON.stringify(out)}\n`, () => process.exit(0)))
}

// Bounded: whatever happens to the answers, the process ends.
setTimeout(() => {
  process.stderr.write(`paced: ${total - settled} of ${total} requests unanswered after ${durationS + 20} s\n`)
  process.exit(1)
}, (durationS + 20) * 1000).unref()

// Connections first, so connecting is not what the first requests measure.
await Promise.all(Array.from({ length: Math.min(connections, 10) }, async () => {
  const res = await pool.request({ path: target.pathname, method: 'GET' })
  await res.body.dump()
}))
started = performance.now()
tick()
