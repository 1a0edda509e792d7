/**
 * ns per acquire + answered + release on the hot path (budget left, nobody
 * queued): the unit taken pending, stamped, and the slot freed, as one
 * proxied request does. A limiter with a sliding window against one without
 * (an upstream with no rateLimit). `node --import tsx bench/limiter.ts`
 */
import { createLimiter } from '../src/limit/index.js'
import type { Limiter } from '../src/limit/limiter.js'

const ITERATIONS = 2_000_000
const ROUNDS = 5

function nsPerOp (limiter: Limiter): number {
  const t0 = process.hrtime.bigint()
  for (let i = 0; i < ITERATIONS; i++) {
    const permit = limiter.acquire()
    if (permit instanceof Promise) throw new Error('left the hot path: acquire returned a promise')
    permit.answered()
    permit.release()
  }
  return Number(process.hrtime.bigint() - t0) / ITERATIONS
}

function best (limiter: Limiter): number {
  let min = Infinity
  for (let r = 0; r < ROUNDS; r++) min = Math.min(min, nsPerOp(limiter))
  return min
}

// A budget no benchmark reaches: 100k starts per millisecond. Expiring old
// starts is part of the measured cost.
const memory = createLimiter({ requests: 100_000, windowMs: 1, maxConcurrent: 1000, maxQueue: 1000, maxWaitMs: 30_000 })
const unlimited = createLimiter(undefined)

const m = best(memory)
const u = best(unlimited)
console.log(`acquire+answered+release, best of ${ROUNDS} x ${ITERATIONS}: sliding window ${m.toFixed(1)} ns/op, no rateLimit ${u.toFixed(1)} ns/op`)
memory.close()
unlimited.close()

// Bottleneck, the library the team first chose for this, on the same job: an
// uncontended schedule() per request (reservoir far from empty, no concurrency
// bound). Every step of it waits a setTimeout(0) (lib/LocalDatastore.js
// yieldLoop), which is why src/limit does not use it on the request path.
const { default: Bottleneck } = await import('bottleneck')
const bottleneck = new Bottleneck({ reservoir: 1e9 })
const JOBS = 2_000
const noopJob = async (): Promise<void> => {}
const b0 = process.hrtime.bigint()
for (let i = 0; i < JOBS; i++) await bottleneck.schedule(noopJob)
const sequential = Number(process.hrtime.bigint() - b0) / JOBS
const b1 = process.hrtime.bigint()
await Promise.all(Array.from({ length: JOBS }, () => bottleneck.schedule(noopJob)))
const concurrent = Number(process.hrtime.bigint() - b1) / JOBS
console.log(`bottleneck 2.19.5 schedule(): ${(sequential / 1000).toFixed(1)} µs/job one at a time, ${(concurrent / 1000).toFixed(1)} µs/job for ${JOBS} at once`)
await bottleneck.stop({ dropWaitingJobs: true })
