/**
 * Open-loop load at a fixed rate, for the added-latency target: requests go
 * out on a fixed schedule over `connections` connections, whatever the answers
 * do, and each latency counts from the moment its request was due, so a
 * stall is charged to every request it delayed (no coordinated omission).
 * autocannon cannot do this: its rate limit sends each connection's quota
 * back to back at the start of every second (lib/httpClient.js), a burst
 * that measures queueing.
 *
 * Several targets are loaded paired, so that a stall of the machine (its
 * neighbours, this process's own GC) lands on all of them alike and the
 * difference of their percentiles is the proxies' own; run one after the
 * other on a shared machine, identical p99s differed by tens of ms. Two ways:
 * - at once (default): at each due time one request goes to every target
 *   (each over its own connections), in an order that rotates from one due
 *   time to the next. Targets that share a CPU then also queue behind each
 *   other's work.
 * - in turns (`sliceMs`): the targets take turns of `sliceMs`, each loaded
 *   alone at `rate` during its turn, for `durationS` in all; each sees the
 *   machine's slow seconds as often as the others, and none waits for
 *   another's CPU (the footprint scenario: each proxy as one pod would run it).
 * One JSON line on stdout: an array of load.ts-shaped results, in the order
 * of `urls`; with turns, each one's `elapsedMs` is its own loaded time.
 */
import { createHistogram, type RecordableHistogram } from 'node:perf_hooks'
import { Client } from 'undici'
import { childArgument } from './child-ipc.js'
import { summariseLoad, type LoadResult } from './load-result.js'

export interface PacedOptions {
  readonly urls: readonly string[]
  readonly connections: number
  /** Requests per second. */
  readonly rate: number
  /** Per target: with `sliceMs`, each one's loaded time. */
  readonly durationS: number
  /** Targets take turns of this long instead of being loaded at once. */
  readonly sliceMs?: number
  /** Send each request's due time, in ms from the start, as `x-paced-due` (for a test to see who was sent what when). */
  readonly markDue?: boolean
}

const { urls, connections, rate, durationS, sliceMs, markDue } = childArgument<PacedOptions>()
process.on('disconnect', () => process.exit(1))

interface PacedTarget {
  readonly path: string
  /** `connections` keep-alive connections, used in turn (as wrk2 does). */
  readonly clients: Client[]
  next: number
  readonly histogram: RecordableHistogram
  ok: number
  failed: number
}

const targets: PacedTarget[] = urls.map((url) => {
  const target = new URL(url)
  const clients = Array.from({ length: connections }, () => new Client(target.origin, { pipelining: 1 }))
  return { path: target.pathname, clients, next: 0, histogram: createHistogram(), ok: 0, failed: 0 }
})
const intervalMs = 1000 / rate
const total = Math.max(1, Math.floor(rate * durationS))
/** Due times: one per request in turns, one per request to each target at once. */
const dueTimes = sliceMs === undefined ? total : total * urls.length
const requests = total * urls.length
let sent = 0
let settled = 0
let started = 0

/**
 * Each request goes out on the next connection in turn, so every connection
 * carries traffic and stays open. A pool (undici's Pool, until this was found)
 * opens a connection only when all open ones are busy, that is in a stall, and
 * lets idle ones lapse after 4 s: connection setup, twice over through a
 * proxy, landed on the very requests a stall had already delayed (p99s of
 * 110-150 ms at 100 connections for every target, the direct path included).
 */
const NO_HEADERS = Object.freeze({})

function send (target: PacedTarget, dueAt: number): void {
  const headers = markDue === true ? { 'x-paced-due': (dueAt - started).toFixed(3) } : NO_HEADERS
  const client = target.clients[target.next] as Client
  target.next = (target.next + 1) % target.clients.length
  client.request({ path: target.path, method: 'GET', headers }).then(async (res) => {
    await res.body.dump()
    if (res.statusCode >= 200 && res.statusCode < 300) {
      target.ok++
      target.histogram.record(Math.max(1, Math.round((performance.now() - dueAt) * 1000)))
    } else {
      target.failed++
    }
  }, () => { target.failed++ }).finally(() => {
    if (++settled === requests) finish()
  })
}

function tick (): void {
  const now = performance.now()
  while (sent < dueTimes && started + sent * intervalMs <= now) {
    const dueAt = started + sent * intervalMs
    if (sliceMs === undefined) {
      // Who goes first rotates, so no target always has the head start.
      for (let i = 0; i < targets.length; i++) send(targets[(sent + i) % targets.length] as PacedTarget, dueAt)
    } else {
      send(targets[Math.floor((sent * intervalMs) / sliceMs) % targets.length] as PacedTarget, dueAt)
    }
    sent++
  }
  if (sent < dueTimes) setTimeout(tick, Math.max(0, started + sent * intervalMs - performance.now()))
}

function finish (): void {
  const elapsedMs = sliceMs === undefined ? performance.now() - started : durationS * 1000
  const out: LoadResult[] = targets.map(({ ok, failed, histogram }) => summariseLoad(histogram, { ok, non2xx: failed, errors: 0, timeouts: 0, elapsedMs }))
  Promise.all(targets.flatMap((target) => target.clients.map(async (client) => { await client.destroy() })))
    .finally(() => process.stdout.write(`${JSON.stringify(out)}\n`, () => process.exit(0)))
}

const runS = sliceMs === undefined ? durationS : durationS * urls.length
// Bounded: whatever happens to the answers, the process ends.
setTimeout(() => {
  process.stderr.write(`paced: ${requests - settled} of ${requests} requests unanswered after ${runS + 20} s\n`)
  process.exit(1)
}, (runS + 20) * 1000).unref()

// Every connection opened first, so connecting is not what any request measures.
await Promise.all(targets.flatMap((target) => target.clients.map(async (client) => {
  const res = await client.request({ path: target.path, method: 'GET' })
  await res.body.dump()
})))
started = performance.now()
tick()
