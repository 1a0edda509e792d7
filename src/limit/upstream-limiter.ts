/**
 * The limiter of one upstream, over a WindowStore (window-store.ts): a FIFO
 * queue bounded by `maxQueue` and each request's `maxWait`, `maxConcurrent`
 * slots held until released, and the pause set by 429s. The store counts
 * window units, in this process (memory-window.ts) or in Redis for every
 * replica (src/store/redis-window.ts); this file is the same for both.
 *
 * Why the queue and the slots are ours and not Bottleneck's (2.19.5; file
 * names in its lib/):
 * - No synchronous path. Every LocalDatastore step (`__submit__`,
 *   `__register__`, `__free__`) first awaits `yieldLoop()`, a `setTimeout(0)`,
 *   and the job itself runs from another `setTimeout`: an uncontended
 *   `schedule()` took 4.8 ms per job on Node 20. Our hot path returns a plain
 *   Permit with no promise.
 * - No way to take a job out of the queue. The only removal is `stop()`,
 *   which drops every job; an aborted waiter would keep its place (spurious
 *   QueueFull), then take a slot and a unit when it reached the head.
 * - No sliding window and no "pause until T"; `Date.now()` hard-wired. Its
 *   Redis datastore is unmaintained and broken on Redis 7
 *   (SGrondin/bottleneck#205, #212, #219).
 *
 * The life of a unit: taken pending at acquire (the store's `takeNow` on the
 * hot path, else `take(n)` for up to n waiters at the head of the queue,
 * synchronous or one round trip), stamped by `Permit.answered()`, or given
 * back by `Permit.withdraw()` when nothing of its start was sent.
 *
 * Timers: one, for the earliest of (the store says a unit frees, the pause
 * ends, the earliest waiter's deadline; not the deadlines of the waiters a
 * take on its way was asked for: its answer decides for them). It exists
 * only while someone waits, so an idle limiter never holds the process
 * open; it is not unref'd, as it settles pending acquires (an unref'd one
 * let a script exit with its promise forever pending).
 *
 * One clock, monotonic (`now`): a wall-clock step moves no pause, deadline
 * or window. The wall clock (`wallNow`) only turns `pausedUntil` into epoch
 * ms for status().
 */
import type { RateLimitConfig } from '../config/types.js'
import { ShuttingDown } from '../errors.js'
import { EarliestTimer } from './earliest-timer.js'
import { createCounters, limiterStatus, type Limiter, type LimiterStatus, type Permit } from './limiter.js'
import { remainingFrom } from '../http/ratelimit-headers.js'
import { queueFull, queueTimeout, upstreamPaused, type LimiterRejection } from './rejection.js'
import type { Clock } from './sliding-window.js'
import { type Waiter, WaitQueue } from './wait-queue.js'
import type { Grant, Ticket, WindowStore } from './window-store.js'

/** Most units one `take` asks for: one Redis round trip serves this many waiters. */
export const MAX_BATCH = 128
/** After a store refusal or error, no new `take` sooner than this. */
const MIN_RETRY_MS = 1

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
  readonly log?: LimiterLog | undefined
}

/**
 * One start's hold: a window unit (its store ticket) and a concurrency slot.
 * Each flag makes its step happen once, however often it is called (a
 * response, then 'close'; an error, then 'close').
 */
class UnitPermit implements Permit {
  readonly #limiter: UpstreamLimiter
  readonly #ticket: Ticket
  #answered = false
  #released = false

  constructor (limiter: UpstreamLimiter, ticket: Ticket) {
    this.#limiter = limiter
    this.#ticket = ticket
  }

  answered (): void {
    if (this.#answered) return
    this.#answered = true
    this.#limiter.stamp(this.#ticket)
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
      this.#limiter.giveBack(this.#ticket)
    }
    this.release()
  }
}

export function createUpstreamLimiter (config: RateLimitConfig, store: WindowStore, deps: LimiterDeps = {}): Limiter {
  return new UpstreamLimiter(config, store, deps)
}

/**
 * Each `pauseFor` call is one 429 the proxy saw and counts in
 * `observed429`; `pauses` counts the calls that moved the end of the pause
 * later (ten concurrent 429s with the same retry-after: 10 and 1).
 */
class UpstreamLimiter implements Limiter {
  readonly #store: WindowStore
  /** These three change only by reconfigure(). */
  #maxConcurrent: number
  #maxQueue: number
  #maxWaitMs: number
  readonly #now: Clock
  readonly #wallNow: Clock
  readonly #log: LimiterLog | undefined
  readonly #timer = new EarliestTimer(() => { this.#drain() })

  /** The waiting acquires, FIFO. Emptied, the backlog is over: the next QueueFull warns again. */
  readonly #queue = new WaitQueue({
    emptied: () => { this.#fullWarned = false },
    aborted: () => { this.#arm(this.#now()) }
  })

  readonly #timedOut = (waiter: Waiter, now: number): unknown => queueTimeout(now - waiter.enqueuedAt, this.#nextStartAt(now) - now)

  #running = 0
  /** 0 when not paused, so the hot path reads no clock for it. */
  #pausedUntil = 0
  /** A `take` is under way (a round trip): nothing else may start meanwhile (FIFO). */
  #taking = false
  /** How many waiters, from the head, the take on its way was asked for: its answer decides for them. */
  #inTake = 0
  /** The store said no unit frees before this: no `take` sooner. */
  #retryAt = 0
  #closed = false
  /** Set by the first QueueFull of a backlog: warn once per backlog, not once per rejection. */
  #fullWarned = false
  readonly #counters = createCounters()

  constructor (config: RateLimitConfig, store: WindowStore, deps: LimiterDeps) {
    const { maxConcurrent, maxQueue, maxWaitMs } = checkLimits(config)
    this.#store = store
    this.#maxConcurrent = maxConcurrent
    this.#maxQueue = maxQueue
    this.#maxWaitMs = maxWaitMs
    this.#now = deps.now ?? preciseNow
    this.#wallNow = deps.wallNow ?? deps.now ?? Date.now
    this.#log = deps.log
    store.listen({
      paused: (ms) => this.#pause(ms, 'upstream paused by another replica'),
      changed: () => {
        this.#retryAt = 0
        if (this.#queue.head !== undefined && !this.#taking) this.#drain()
      }
    })
  }

  acquire (signal?: AbortSignal, budgetMs = this.#maxWaitMs): Permit | Promise<Permit> {
    if (signal?.aborted === true) return Promise.reject(signal.reason)
    return this.tryAcquire() ?? this.#enqueue(signal, budgetMs)
  }

  tryAcquire (): Permit | undefined {
    // Nobody waiting and a slot free: start now, synchronously. Otherwise the
    // caller queues, even when a unit came back a moment ago and the timer
    // has not fired yet: arrivals never overtake waiters.
    if (this.#queue.head !== undefined || this.#running >= this.#maxConcurrent || this.#closed || this.#paused()) return undefined
    const ticket = this.#store.takeNow()
    return ticket === undefined ? undefined : this.#start(ticket)
  }

  pauseFor (ms: number): number {
    this.#counters.observed429++
    if (this.#pause(ms, 'upstream paused')) this.#store.pause(ms)
    return this.#paused() ? this.#pausedUntil - this.#now() : 0
  }

  observe (headers: Readonly<Record<string, string | string[] | undefined>>): void {
    const remaining = remainingFrom(headers)
    // Only ever lowers the budget; no wake-up needed, as less budget never lets a waiter start sooner.
    if (remaining !== undefined && this.#store.requests !== Infinity) this.#store.learnRemaining(remaining)
  }

  status (): LimiterStatus {
    const now = this.#now()
    return limiterStatus({
      requests: this.#store.requests,
      windowMs: this.#store.windowMs,
      remaining: this.#store.remaining(),
      queued: this.#queue.length,
      running: this.#running,
      ...this.#store.sharing?.()
    }, this.#counters, this.#paused() ? this.#wallNow() + (this.#pausedUntil - now) : undefined)
  }

  reconfigure (config: RateLimitConfig): void {
    const limits = checkLimits(config)
    if (limits.requests !== this.#store.requests || limits.windowMs !== this.#store.windowMs) this.#store.resize?.(limits.requests, limits.windowMs)
    this.#maxConcurrent = limits.maxConcurrent
    this.#maxQueue = limits.maxQueue
    this.#maxWaitMs = limits.maxWaitMs
    // Waiters keep their deadlines and their places; a larger limit may let some start now.
    this.#retryAt = 0
    if (this.#queue.head !== undefined && !this.#taking) this.#drain()
  }

  close (): void {
    this.#closed = true
    this.#timer.disarm()
    this.#counters.rejected += this.#queue.rejectAll(() => new ShuttingDown())
    this.#store.close()
  }

  /** For UnitPermit only (this class is not exported). */
  stamp (ticket: Ticket): void {
    this.#store.stamp(ticket)
  }

  /** For UnitPermit only: its unit is free again, so a waiter may start now. */
  giveBack (ticket: Ticket): void {
    this.#store.giveBack(ticket)
    this.#retryAt = 0
    if (this.#queue.head !== undefined && !this.#taking) this.#drain()
  }

  /** For UnitPermit only. Only a release that un-saturates maxConcurrent can let a waiter start. */
  freeSlot (): void {
    this.#running--
    if (this.#running === this.#maxConcurrent - 1 && this.#queue.head !== undefined && !this.#taking) this.#drain()
  }

  /** Returns whether the pause moved later. Waiters whose deadline falls before its end leave now. */
  #pause (ms: number, message: string): boolean {
    const now = this.#now()
    const until = now + ms
    // `!(a > b)` also turns NaN away.
    if (!(ms > 0) || until <= this.#pausedUntil) return false
    this.#pausedUntil = until
    this.#counters.pauses++
    this.#log?.info({ pauseMs: ms, pausedUntil: this.#wallNow() + ms }, message)
    this.#counters.rejected += this.#queue.rejectExpired(until, () => upstreamPaused(until - this.#now()))
    // No re-arm: a timer set earlier wakes, sees the pause, and re-arms for its end.
    return true
  }

  #paused (): boolean {
    if (this.#pausedUntil === 0) return false
    if (this.#pausedUntil > this.#now()) return true
    this.#pausedUntil = 0
    return false
  }

  #start (ticket: Ticket): Permit {
    this.#running++
    this.#counters.started++
    return new UnitPermit(this, ticket)
  }

  #enqueue (signal: AbortSignal | undefined, budgetMs: number): Promise<Permit> {
    if (this.#closed) {
      this.#counters.rejected++
      return Promise.reject(new ShuttingDown())
    }
    const now = this.#now()
    const deadline = now + Math.max(0, budgetMs)
    // The outcome is known now: the pause ends after this request would have given up.
    if (this.#paused() && this.#pausedUntil > deadline) {
      this.#counters.rejected++
      return Promise.reject(upstreamPaused(this.#pausedUntil - now))
    }
    // Every acquire the hot path turned away queues for one `take`; it counts
    // against maxQueue once the limiter knows the upstream is blocked. A
    // burst that came before it knew is trimmed when the store says no.
    if (this.#queue.length >= this.#maxQueue && this.#blocked(now)) return Promise.reject(this.#full(now))
    const waiting = this.#queue.wait(now, deadline, signal)
    // A take on its way drains when it is answered; meanwhile this waiter's deadline is watched.
    if (this.#taking) this.#arm(now)
    else this.#drain()
    return waiting
  }

  /** What is known to hold the queue back now, without asking the store. */
  #blocked (now: number): boolean {
    return this.#running >= this.#maxConcurrent || this.#paused() || now < this.#retryAt
  }

  /** Start what can start, in order; then time out the waiters past their deadline (one whose unit frees at its deadline is served); set the timer. */
  #drain (): void {
    let now = this.#now()
    while (this.#queue.head !== undefined && !this.#closed && !this.#taking && !this.#blocked(now)) {
      const asked = Math.min(this.#queue.length, this.#maxConcurrent - this.#running, MAX_BATCH)
      let grant: Grant | Promise<Grant>
      try {
        grant = this.#store.take(asked)
      } catch (err) {
        this.#refused(err, asked)
        break
      }
      if (grant instanceof Promise) {
        this.#taking = true
        this.#inTake = asked
        grant.then((answer) => {
          this.#taking = false
          this.#inTake = 0
          this.#granted(answer, asked)
          this.#drain()
        }, (err: unknown) => {
          this.#taking = false
          this.#inTake = 0
          this.#refused(err, asked)
          this.#drain()
        })
        break
      }
      this.#granted(grant, asked)
      now = this.#now()
    }
    // While a take is on its way, its answer decides for the waiters it was asked for (and drains
    // again): they are not timed out under it, so one whose budget a token wait used up still gets
    // that round trip to a free slot. Bounded: a take ends within the store's command timeout.
    this.#counters.rejected += this.#queue.rejectExpired(now, this.#timedOut, this.#inTake)
    this.#arm(now)
  }

  /** Units came: the head of the queue starts with them; what nobody can use goes back. */
  #granted (grant: Grant, asked: number): void {
    if (grant.pausedMs > 0) this.#pause(grant.pausedMs, 'upstream paused by another replica')
    let given = 0
    while (given < grant.taken && this.#queue.head !== undefined && !this.#closed && this.#running < this.#maxConcurrent) {
      given++
      this.#counters.waited++
      this.#queue.shift()?.resolve(this.#start(grant.ticket))
    }
    // The waiters left (aborted, timed out, a pause turned them away) or we closed meanwhile.
    for (; given < grant.taken; given++) this.#store.giveBack(grant.ticket)
    const now = this.#now()
    if (grant.taken < asked) {
      this.#retryAt = now + Math.max(MIN_RETRY_MS, grant.waitMs)
      this.#trim(now)
    } else {
      this.#retryAt = 0
    }
  }

  /** The store cannot count units (down, and onUnavailable: fail): the waiters it was asked for get its answer. */
  #refused (err: unknown, asked: number): void {
    for (let i = 0; i < asked && this.#queue.head !== undefined; i++) {
      this.#counters.rejected++
      this.#queue.shift()?.reject(err)
    }
    this.#retryAt = this.#now() + MIN_RETRY_MS
  }

  /** The store said no: waiters beyond maxQueue (the newest) leave now, as they would have at the door. */
  #trim (now: number): void {
    while (this.#queue.length > this.#maxQueue) this.#queue.pop()?.reject(this.#full(now))
  }

  #full (now: number): LimiterRejection {
    this.#counters.rejected++
    if (!this.#fullWarned) {
      this.#fullWarned = true
      this.#log?.warn({ maxQueue: this.#maxQueue }, 'limiter queue full')
    }
    return queueFull(this.#queue.length, this.#nextStartAt(now) - now)
  }

  /** When the next start could happen, counting the window and the pause (not maxConcurrent: unknowable). */
  #nextStartAt (now: number): number {
    return Math.max(now + this.#store.freeInMs(), this.#retryAt, this.#pausedUntil)
  }

  /** Keep the one timer set for the earliest moment the head of the queue can change. */
  #arm (now: number): void {
    // The waiters a take on its way was asked for: its answer drains, and arms again.
    const deadline = this.#queue.earliestDeadline(this.#inTake)
    if (this.#closed || deadline === Infinity) {
      this.#timer.disarm()
      return
    }
    // Blocked on maxConcurrent or on a round trip, only a release or the answer (which drain) or a deadline moves the queue.
    const at = !this.#taking && this.#running < this.#maxConcurrent ? Math.min(deadline, Math.max(this.#retryAt, this.#pausedUntil)) : deadline
    // An earlier timer is kept: when it fires, #drain re-arms.
    this.#timer.armAt(at, now)
  }
}

/** Programmer misuse, not a config problem (the validator checked these): a TypeError naming the option. */
function checkLimits (config: RateLimitConfig): RateLimitConfig {
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
  return config
}

/** Monotonic, sub-millisecond: Date.now() rounding down let a start land up to 1 ms early. */
function preciseNow (): number {
  return performance.now()
}
