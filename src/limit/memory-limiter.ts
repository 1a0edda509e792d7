/**
 * The in-process limiter: an exact sliding window, a FIFO queue bounded by
 * `maxQueue` and `maxWait`, `maxConcurrent` slots held until released, and a
 * pause set from 429s.
 *
 * Why the queue and the slots are ours and not Bottleneck's (2.19.5, the
 * version installed; file names below are in its lib/):
 * - No synchronous path. Every LocalDatastore step (`__submit__`,
 *   `__register__`, `__free__`) first awaits `yieldLoop()`, a `setTimeout(0)`,
 *   and the job itself runs from another `setTimeout`. An uncontended
 *   `schedule()` took 4.8 ms per job on Node 20; our hot path must return a
 *   plain Permit with no promise.
 * - No way to take a job out of the queue. The only removal is `stop()`,
 *   which drops every job. An aborted or timed-out waiter would keep its
 *   place in `queued()` (and so count against `highWater`, giving spurious
 *   QueueFull), then take a concurrency slot and a reservoir unit when it
 *   reaches the head. `expiration` bounds running time, not queueing time,
 *   and leaks the slot (Job.js `doExpire`: `jobStatus(id === "RUNNING")`).
 * - No sliding window and no "pause until T": reservoir refresh is a fixed
 *   window; giving each unit back `window` after its start needs a timer per
 *   start plus `incrementReservoir()`, itself deferred by `yieldLoop()`, and
 *   such a give-back would refill the reservoir we zeroed to pause.
 * - `Date.now()` is hard-wired, so its timing could not be tested with an
 *   injected clock.
 * Bottleneck for maxConcurrent alone would keep the first two problems, so
 * nothing is left for it and this file does not import it. All of this sits
 * behind `Limiter`, as the task asks.
 *
 * Permits: a start's window unit is pending from acquire until the upstream
 * answers (`answered()`, or `release()` if that never came), and frees one
 * window after that (sliding-window.ts says why). The concurrency slot is
 * held until `release()`.
 *
 * Timers: one per limiter, for the earliest of (next unit free, pause end,
 * oldest waiter's maxWait deadline). Every waiter has the same maxWait and
 * the queue is FIFO, so deadlines are in queue order and the head's is the
 * next one. While every unit is pending, "next unit free" is a lower bound,
 * now + window: the timer may fire there, find nothing free and re-arm one
 * window on, never sooner (no spinning), and never starts a waiter early, as
 * a start always goes through `tryTake`. A commit re-arms the timer if it
 * was set later than its unit's end, so that moment is not missed. The timer exists only while someone waits, and is cleared when
 * the queue empties and by close(), so an idle limiter never holds the
 * process open. It is not unref'd: it is what settles a pending acquire, and
 * an unref'd one let a process exit with that promise forever pending (a
 * caller with no socket open, such as a script or a test, loses its work).
 */
import type { RateLimitConfig } from '../config/types.js'
import { ShuttingDown } from '../errors.js'
import { createCounters, limiterStatus, type Limiter, type LimiterStatus, type Permit } from './limiter.js'
import { remainingFrom } from './ratelimit-headers.js'
import { queueFull, queueTimeout, upstreamPaused } from './rejection.js'
import { type Clock, NO_WINDOW, SlidingWindow, type StartWindow } from './sliding-window.js'
import { type Waiter, WaitQueue } from './wait-queue.js'
import { EarliestTimer } from './earliest-timer.js'

/** The part of a pino logger the limiter uses. */
export interface LimiterLog {
  info (obj: object, msg: string): void
  warn (obj: object, msg: string): void
}

export interface LimiterDeps {
  /** Monotonic ms for every duration (performance.now by default). */
  readonly now?: Clock
  /** Epoch ms, only to report `pausedUntil` in status(); Date.now by default, or `now` when only that is injected. */
  readonly wallNow?: Clock
  readonly log?: LimiterLog
}

/**
 * What `acquire` hands out: a reference and two flags, no closure. Each flag
 * makes its step happen once, however often the proxy calls it (a response,
 * then 'close'; an error, then 'close').
 */
class MemoryPermit implements Permit {
  readonly #limiter: MemoryLimiter
  #answered = false
  #released = false

  constructor (limiter: MemoryLimiter) {
    this.#limiter = limiter
  }

  answered (): void {
    if (this.#answered) return
    this.#answered = true
    this.#limiter.commitStart()
  }

  release (): void {
    if (this.#released) return
    this.#released = true
    this.answered()
    this.#limiter.freeSlot()
  }

  withdraw (): void {
    if (this.#released) return
    if (!this.#answered) {
      this.#answered = true
      this.#limiter.giveBackUnit()
    }
    this.release()
  }
}

/**
 * The limiter of one upstream, state in this process. Each `pauseUntil` call
 * is one 429 the proxy saw and counts in `observed429`; `pauses` counts the
 * calls that moved the end of the pause later (ten concurrent 429s with the
 * same retry-after: 10 and 1).
 */
export function createMemoryLimiter (config: RateLimitConfig, deps: LimiterDeps = {}): Limiter {
  return new MemoryLimiter(config, deps)
}

class MemoryLimiter implements Limiter {
  readonly #window: StartWindow
  readonly #maxConcurrent: number
  readonly #maxQueue: number
  readonly #maxWaitMs: number
  readonly #now: Clock
  readonly #wallNow: Clock
  readonly #log: LimiterLog | undefined
  readonly #timer = new EarliestTimer(() => { this.#drain() })

  /** The waiting acquires, FIFO. Emptied, the backlog is over: the next QueueFull warns again. */
  readonly #queue = new WaitQueue({
    emptied: () => { this.#fullWarned = false },
    aborted: () => { this.#arm(this.#now()) }
  })

  readonly #timedOut = (waiter: Waiter, now: number): unknown => queueTimeout(now - waiter.enqueuedAt, this.#nextStartAt() - now)

  #running = 0
  /** 0 when not paused, so the hot path reads no clock for it. */
  #pausedUntil = 0
  #closed = false
  /** Set by the first QueueFull of a backlog: warn once per backlog, not once per rejection. */
  #fullWarned = false
  readonly #counters = createCounters()

  constructor (config: RateLimitConfig, deps: LimiterDeps) {
    const { maxConcurrent, maxQueue, maxWaitMs } = config
    if (!(maxConcurrent === Infinity || (Number.isSafeInteger(maxConcurrent) && maxConcurrent >= 1))) {
      throw new TypeError(`'maxConcurrent' must be a positive integer or Infinity, got ${maxConcurrent}`)
    }
    if (!Number.isSafeInteger(maxQueue) || maxQueue < 0) {
      throw new TypeError(`'maxQueue' must be a non-negative integer, got ${maxQueue}`)
    }
    if (!Number.isFinite(maxWaitMs) || maxWaitMs < 0) {
      throw new TypeError(`'maxWaitMs' must be a non-negative number, got ${maxWaitMs}`)
    }
    // Monotonic, so a wall-clock step moves no pause or window; sub-millisecond, as Date.now() rounding down let a start land up to 1 ms early.
    this.#now = deps.now ?? preciseNow
    this.#wallNow = deps.wallNow ?? deps.now ?? Date.now
    this.#log = deps.log
    this.#window = config.requests === Infinity ? NO_WINDOW : new SlidingWindow(config.requests, config.windowMs, this.#now)
    this.#maxConcurrent = maxConcurrent
    this.#maxQueue = maxQueue
    this.#maxWaitMs = maxWaitMs
  }

  acquire (signal?: AbortSignal): Permit | Promise<Permit> {
    if (signal?.aborted === true) return Promise.reject(signal.reason)
    return this.tryAcquire() ?? this.#enqueue(signal)
  }

  tryAcquire (): Permit | undefined {
    // Nobody waiting and a slot free: start now, synchronously. Otherwise the
    // caller queues, even when a unit came back a moment ago and the timer
    // has not fired yet: arrivals never overtake waiters.
    if (this.#queue.head === undefined && this.#running < this.#maxConcurrent && !this.#paused() && !this.#closed &&
        this.#window.tryTake() === 0) {
      return this.#start()
    }
    return undefined
  }

  pauseFor (ms: number): void {
    this.pauseUntil(this.#now() + ms)
  }

  pauseUntil (untilMs: number): void {
    this.#counters.observed429++
    const now = this.#now()
    // `!(a > b)` also turns NaN away.
    if (!(untilMs > now) || untilMs <= this.#pausedUntil) return
    this.#pausedUntil = untilMs
    this.#counters.pauses++
    this.#log?.info({ pauseMs: untilMs - now, pausedUntil: untilMs }, 'upstream paused')
    // Waiters whose maxWait ends before the pause does could only time out: they leave now.
    // Deadlines are in queue order, so they are the head of the queue.
    this.#counters.rejected += this.#queue.rejectExpired(untilMs, () => upstreamPaused(untilMs - now))
    // No re-arm: a timer set for an earlier unit wakes, sees the pause, and re-arms for its end.
  }

  observe (headers: Readonly<Record<string, string | string[] | undefined>>): void {
    const upstreamRemaining = remainingFrom(headers)
    if (upstreamRemaining === undefined) return
    // Only ever lowers the budget; no wake-up needed, as less budget never lets a waiter start sooner.
    const excess = this.#window.remaining() - upstreamRemaining
    if (excess > 0) this.#window.addPhantomStarts(excess)
  }

  status (): LimiterStatus {
    return limiterStatus({
      requests: this.#window.requests,
      windowMs: this.#window.windowMs,
      remaining: this.#window.remaining(),
      queued: this.#queue.length,
      running: this.#running
    }, this.#counters, this.#paused() ? this.#wallNow() + (this.#pausedUntil - this.#now()) : undefined)
  }

  close (): void {
    this.#closed = true
    this.#disarm()
    this.#counters.rejected += this.#queue.rejectAll(() => new ShuttingDown())
  }

  /** For MemoryPermit only (this class is not exported): stamp one pending unit now. */
  commitStart (): void {
    this.#window.commit()
    // A commit frees nothing now, but it fixes when its unit will: make sure
    // the timer is not set later than that (a no-op when it is earlier).
    if (this.#queue.head !== undefined) this.#arm(this.#now())
  }

  /** For MemoryPermit only: its start never reached the upstream; its pending unit is free again. */
  giveBackUnit (): void {
    this.#window.giveBack()
    if (this.#queue.head !== undefined) this.#drain()
  }

  /** For MemoryPermit only: give back a concurrency slot. */
  freeSlot (): void {
    this.#running--
    // Only a release that un-saturates maxConcurrent can let a waiter start.
    if (this.#running === this.#maxConcurrent - 1 && this.#queue.head !== undefined) this.#drain()
  }

  #paused (): boolean {
    if (this.#pausedUntil === 0) return false
    if (this.#pausedUntil > this.#now()) return true
    this.#pausedUntil = 0
    return false
  }

  /** Take a concurrency slot; the (pending) window unit was taken by the caller. */
  #start (): Permit {
    this.#running++
    this.#counters.started++
    return new MemoryPermit(this)
  }

  #enqueue (signal: AbortSignal | undefined): Promise<Permit> {
    if (this.#closed) {
      this.#counters.rejected++
      return Promise.reject(new ShuttingDown())
    }
    const now = this.#now()
    if (this.#queue.length >= this.#maxQueue) {
      this.#counters.rejected++
      if (!this.#fullWarned) {
        this.#fullWarned = true
        this.#log?.warn({ maxQueue: this.#maxQueue }, 'limiter queue full')
      }
      return Promise.reject(queueFull(this.#queue.length, this.#nextStartAt() - now))
    }
    if (this.#paused() && this.#pausedUntil > now + this.#maxWaitMs) {
      this.#counters.rejected++
      return Promise.reject(upstreamPaused(this.#pausedUntil - now))
    }
    const waiting = this.#queue.wait(now, now + this.#maxWaitMs, signal)
    this.#arm(now)
    return waiting
  }

  /** Start every waiter that can start now, in order; then time out the ones past maxWait. */
  #drain (): void {
    while (this.#queue.head !== undefined && this.#running < this.#maxConcurrent && !this.#paused() &&
           this.#window.tryTake() === 0) {
      this.#counters.waited++
      this.#queue.shift()?.resolve(this.#start())
    }
    const now = this.#now()
    this.#counters.rejected += this.#queue.rejectExpired(now, this.#timedOut)
    this.#arm(now)
  }

  /** When the next start could happen, counting the window and the pause (not maxConcurrent: unknowable). */
  #nextStartAt (): number {
    return Math.max(this.#window.nextFreeAt(), this.#pausedUntil)
  }

  /** Keep the one timer set for the earliest moment the head of the queue can change. */
  #arm (now: number): void {
    const head = this.#queue.head
    if (head === undefined) {
      this.#disarm()
      return
    }
    // Blocked on maxConcurrent, only a release (which drains) or the deadline can move the queue.
    const at = this.#running < this.#maxConcurrent ? Math.min(head.deadline, this.#nextStartAt()) : head.deadline
    // An earlier timer is kept: when it fires, #drain re-arms.
    this.#timer.armAt(at, now)
  }

  #disarm (): void {
    this.#timer.disarm()
  }
}

/** Monotonic: a wall-clock step must neither shorten nor stretch a pause or a window. */
function preciseNow (): number {
  return performance.now()
}
