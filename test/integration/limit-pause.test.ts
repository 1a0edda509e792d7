import { PassThrough } from 'node:stream'
import { createLimiter } from '../../src/limit/index.js'
import { test, type TestContext } from 'node:test'
import pino from 'pino'
import type { Permit } from '../../src/limit/limiter.js'
import type { LimiterRejection } from '../../src/limit/rejection.js'
import { LATE_SLACK_MS } from '../helpers/timing.js'

const generous = { requests: 100, windowMs: 1000, maxConcurrent: Infinity, maxQueue: 100, maxWaitMs: 5000 }

async function startedAt (acquired: Permit | Promise<Permit>): Promise<number> {
  const permit = await acquired
  const at = Date.now()
  permit.answered()
  permit.release()
  return at
}

test('no acquisition completes inside a pause; the queue waits it out and then starts at once', async (t: TestContext) => {
  const lines: string[] = []
  const log = pino(new PassThrough().on('data', (chunk: Buffer) => lines.push(chunk.toString())))
  // Date.now as the limiter's clock: these pauses are told as epoch ends (pauseFor is tested in test/unit).
  const limiter = createLimiter(generous, { log, now: Date.now })
  t.after(() => limiter.close())

  t.assert.ok(!(limiter.acquire() instanceof Promise), 'not paused yet: a plain Permit')
  // The limiter reads the clock inside pauseFor: the end lies between the reads just before and just after (a loaded host may stall between them).
  const calledAt = Date.now()
  limiter.pauseFor(200)
  const returnedAt = Date.now()
  const acquired = Array.from({ length: 5 }, () => limiter.acquire())
  t.assert.ok(acquired.every((a) => a instanceof Promise), 'paused: every acquire waits')
  const paused = limiter.status()
  const until = paused.pausedUntil ?? 0
  // status() turns the pause's end into epoch with a second clock read: the millisecond may tick between the two (+1).
  t.assert.ok(until >= calledAt + 200 && until <= returnedAt + 200 + 1, `paused until ${until - calledAt - 200} ms from the intended end (${returnedAt - calledAt} ms inside pauseFor)`)
  t.assert.strictEqual(paused.queued, 5)

  const starts = await Promise.all(acquired.map(startedAt))
  for (const s of starts) {
    t.assert.ok(s >= until - 1, `started ${until - s} ms before the pause ended`)
    t.assert.ok(s - until < LATE_SLACK_MS, `started ${s - until} ms after the pause ended`)
  }
  const after = limiter.status()
  t.assert.strictEqual(after.pausedUntil, undefined)
  t.assert.deepStrictEqual(after.counters, { started: 6, waited: 5, rejected: 0, pauses: 1, observed429: 1 })
  const logged = lines.map((l) => JSON.parse(l) as { msg: string, pausedUntil?: number })
  t.assert.deepStrictEqual(logged.map((l) => l.msg), ['upstream paused'])
  t.assert.ok(Math.abs((logged[0]?.pausedUntil ?? 0) - until) <= 1, 'the log line says when the pause ends')
})

test('a later pause with an earlier end does not shorten the pause', async (t: TestContext) => {
  const limiter = createLimiter(generous, { now: Date.now })
  t.after(() => limiter.close())

  const calledAt = Date.now()
  limiter.pauseFor(250)
  const returnedAt = Date.now()
  limiter.pauseFor(50)
  limiter.pauseFor(-1000)
  // The first pause's end, read between the clock reads around its call; the shorter pauses would move it 200 ms earlier.
  // status() makes it epoch with a second clock read, which may land on the next millisecond (+1; failed once on Node 22 in CI).
  const pausedUntil = limiter.status().pausedUntil ?? 0
  t.assert.ok(pausedUntil >= calledAt + 250 && pausedUntil <= returnedAt + 250 + 1, `paused until ${pausedUntil - calledAt - 250} ms from the first pause's end`)
  const until = pausedUntil

  const s = await startedAt(limiter.acquire())
  t.assert.ok(s >= until, `started ${until - s} ms early`)
  const { pauses, observed429 } = limiter.status().counters
  t.assert.deepStrictEqual({ pauses, observed429 }, { pauses: 1, observed429: 3 }, 'three 429s, one pause')
})

test('a pause longer than maxWait: the arrival is refused at once with TG_UPSTREAM_PAUSED, told when the pause ends', async (t: TestContext) => {
  const limiter = createLimiter({ ...generous, maxWaitMs: 100 })
  t.after(() => limiter.close())

  limiter.pauseFor(3000)
  const queuedAt = Date.now()
  const err = await Promise.resolve(limiter.acquire()).then(() => undefined, (e: LimiterRejection) => e)
  const waited = Date.now() - queuedAt

  t.assert.strictEqual(err?.code, 'TG_UPSTREAM_PAUSED')
  t.assert.strictEqual(err?.statusCode, 503)
  t.assert.ok(waited < LATE_SLACK_MS, `rejected after ${waited} ms, not after maxWait`)
  t.assert.ok(err !== undefined && err.retryAfterMs > 2900 && err.retryAfterMs <= 3000, `retryAfterMs ${err?.retryAfterMs}`)
  const { queued, running, counters } = limiter.status()
  t.assert.deepStrictEqual({ queued, running, rejected: counters.rejected }, { queued: 0, running: 0, rejected: 1 })
})
