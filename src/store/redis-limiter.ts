/**
 * The limiter of one upstream when replicas share a Redis: the sliding
 * window, the 429 pause and the x-ratelimit learning live in Redis; the FIFO
 * queue, maxQueue, maxWait and maxConcurrent stay in this process (they are
 * about this replica's callers and sockets, not about the vendor's quota).
 *
 * Why our own Lua and not Bottleneck's cluster mode: Bottleneck is not used
 * anywhere in tollgate (src/limit/memory-limiter.ts says why for one
 * process), and its Redis datastore is unmaintained (last release 2019) and
 * broken on Redis 7, which prefixes Lua errors with `ERR ` so its recovery
 * code never matches (SGrondin/bottleneck#205, #212, #219; fix #215
 * unmerged). It is a fixed-window reservoir besides. The window here is the
 * one of src/limit/sliding-window.ts, kept in two sorted sets per upstream:
 *
 *   <prefix>limit:{<upstream>}:starts   member → stamp (Redis ms)
 *   <prefix>limit:{<upstream>}:pending  member → held-until (Redis ms)
 *   <prefix>limit:{<upstream>}:pause    Redis ms until which nothing starts
 *
 * The `{<upstream>}` hash tag keeps one upstream's keys in one Cluster slot.
 *
 * Pending then stamped, across replicas: acquire takes a pending unit
 * (scripts.ts ACQUIRE, up to one batch per round trip for the queue's head),
 * answered() re-scores it to the Redis time it runs at (STAMP). The proof in
 * sliding-window.ts holds with Redis' clock in place of the process clock:
 * the reservation runs before the request is sent and the stamp after the
 * answer, so every arrival lies between them.
 *
 * When the window is full the queue does not poll: ACQUIRE says when the next
 * unit frees (or the pause ends), and one timer waits for that plus a few ms
 * of jitter, so that replicas woken for the same unit do not all ask at once.
 *
 * Redis away (redis-client.ts decides): with onUnavailable `fail`, acquire
 * rejects with 503 TG_STORE_UNAVAILABLE; with `local`, this replica carries
 * on with its own window, which has counted every start this replica made
 * all along, so it does not burst the moment Redis goes. The starts made
 * meanwhile are written back when Redis returns (RESYNC), so the shared
 * window knows them. Requests in flight are never touched: a stamp that
 * cannot be written leaves its unit pending until its hold ends.
 */
import { ShuttingDown, StoreUnavailable } from '../errors.js'
import type { RateLimitConfig } from '../config/types.js'
import { createCounters, limiterStatus, type Limiter, type LimiterStatus, type Permit } from '../limit/limiter.js'
import type { LimiterLog } from '../limit/upstream-limiter.js'
import { remainingFrom } from '../http/ratelimit-headers.js'
import { queueFull, queueTimeout, upstreamPaused, type LimiterRejection } from '../limit/rejection.js'
import { type Clock, NO_WINDOW, SlidingWindow, type StartWindow } from '../limit/sliding-window.js'
import { type Waiter, WaitQueue } from '../limit/wait-queue.js'
import type { RedisConnection, StoreMessage } from './redis-client.js'
import { ACQUIRE, defineScript, OBSERVE, PAUSE, RESYNC, type Script, STAMP } from './scripts.js'
import { EarliestTimer } from '../limit/earliest-timer.js'

/** Most units one round trip asks for. */
export const MAX_BATCH = 128
/** Retry jitter: up to this, or a fiftieth of the window when that is less. */
const MAX_JITTER_MS = 20
/** A retry never comes sooner than this after a refusal. */
const MIN_RETRY_MS = 1
/** After a failed round trip, the next one waits this long (if Redis still looks available meanwhile). */
const RETRY_AFTER_ERROR_MS = 100
/** Retry-After of a 503 TG_STORE_UNAVAILABLE. */
const STORE_RETRY_AFTER_MS = 1000

export interface RedisLimiterOptions {
  readonly upstream: string
  /** `requests: Infinity` for an upstream without rateLimit: no window, only the (shared) 429 pause. */
  readonly config: RateLimitConfig
  /** The longest a request can stay pending (acquire → answer): token wait + upstream timeout + slack. */
  readonly maxPendingMs: number
  readonly connection: RedisConnection
  readonly now?: Clock
  readonly log?: LimiterLog | undefined
  readonly random?: () => number
}

interface Scripts {
  readonly acquire: Script
  readonly stamp: Script
  readonly observe: Script
  readonly pause: Script
  readonly resync: Script
}

export function createRedisLimiter (options: RedisLimiterOptions): Limiter {
  return new RedisLimiter(options)
}

/**
 * One start's hold. `member` is its pending unit in Redis (undefined for a
 * start made on the local window alone); `local` says whether it also holds a
 * unit of the local window.
 */
class SharedPermit implements Permit {
  readonly #limiter: RedisLimiter
  readonly #member: string | undefined
  readonly #local: boolean
  #answered = false
  #released = false

  constructor (limiter: RedisLimiter, member: string | undefined, local: boolean) {
    this.#limiter = limiter
    this.#member = member
    this.#local = local
  }

  answered (): void {
    if (this.#answered) return
    this.#answered = true
    this.#limiter.stampStart(this.#member, this.#local)
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
      this.#limiter.giveBackUnit(this.#member, this.#local)
    }
    this.release()
  }
}

class RedisLimiter implements Limiter {
  readonly #conn: RedisConnection
  readonly #scripts: Scripts
  readonly #keys: { readonly starts: string, readonly pending: string, readonly pause: string }
  readonly #windowed: boolean
  readonly #requests: number
  readonly #windowMs: number
  readonly #holdMs: number
  readonly #maxConcurrent: number
  readonly #maxQueue: number
  readonly #maxWaitMs: number
  readonly #jitterMs: number
  readonly #now: Clock
  /** Epoch ms, for status() alone. */
  readonly #wallNow: Clock
  readonly #random: () => number
  readonly #log: LimiterLog | undefined
  /** This replica's own starts, always; the whole window while Redis is away. */
  readonly #local: StartWindow
  readonly #unsubscribe: Array<() => void>
  readonly #timer = new EarliestTimer(() => { this.#drain() })

  /** The waiting acquires, FIFO. Emptied, the backlog is over: the next QueueFull warns again. */
  readonly #queue = new WaitQueue({
    emptied: () => { this.#fullWarned = false },
    aborted: () => { this.#arm(this.#now()) }
  })

  readonly #timedOut = (waiter: Waiter, now: number): unknown => queueTimeout(now - waiter.enqueuedAt, this.#nextStartAt(now) - now)

  #running = 0
  /** A round trip to Redis for the queue's head is under way: nothing else may start (FIFO). */
  #reserving = false
  /** Local ms before which Redis said no unit frees: no round trip sooner. */
  #retryAt = 0
  /** Local ms until which this upstream is paused, from this replica's 429s, the other replicas' or Redis. */
  #pausedUntil = 0
  /** Local-clock stamps of starts made while Redis was away, written back when it returns. */
  #offline: number[] = []
  #sharedRemaining: number | undefined
  #seq = 0
  #closed = false
  #fullWarned = false
  readonly #counters = createCounters()

  constructor (options: RedisLimiterOptions) {
    const { config, connection } = options
    this.#conn = connection
    // Monotonic: durations only (Redis keeps its own time); a wall-clock step moves no pause.
    this.#now = options.now ?? performance.now.bind(performance)
    this.#wallNow = options.now ?? Date.now
    this.#random = options.random ?? Math.random
    this.#log = options.log
    this.#windowed = config.requests !== Infinity
    this.#requests = config.requests
    this.#windowMs = config.windowMs
    this.#holdMs = options.maxPendingMs + config.windowMs
    this.#maxConcurrent = config.maxConcurrent
    this.#maxQueue = config.maxQueue
    this.#maxWaitMs = config.maxWaitMs
    this.#jitterMs = Math.min(MAX_JITTER_MS, config.windowMs / 50)
    this.#local = this.#windowed ? new SlidingWindow(config.requests, config.windowMs, this.#now) : NO_WINDOW
    const base = `${connection.keyPrefix}limit:{${options.upstream}}`
    this.#keys = { starts: `${base}:starts`, pending: `${base}:pending`, pause: `${base}:pause` }
    const client = connection.client
    this.#scripts = {
      acquire: defineScript(client, 'tollgateAcquire', 3, ACQUIRE),
      stamp: defineScript(client, 'tollgateStamp', 2, STAMP),
      observe: defineScript(client, 'tollgateObserve', 2, OBSERVE),
      pause: defineScript(client, 'tollgatePause', 1, PAUSE),
      resync: defineScript(client, 'tollgateResync', 2, RESYNC)
    }
    this.#unsubscribe = [
      connection.onReady(() => this.#resync()),
      // Waiters timed for Redis' answer move to the local window (or get their 503) now.
      connection.onLost(() => { if (this.#queue.head !== undefined && !this.#reserving) this.#drain() }),
      connection.onMessage((message) => this.#message(message))
    ]
    // Joining while another replica's pause runs: learn it now, not at the first 429.
    if (connection.available) this.#resync()
  }

  /** The shared window is in use: this upstream has one, and Redis is there. */
  get #shared (): boolean {
    return this.#windowed && this.#conn.available
  }

  /** Redis is away and this upstream's operator chose to refuse rather than go on alone. */
  get #failing (): boolean {
    return this.#windowed && this.#conn.onUnavailable === 'fail' && !this.#conn.available
  }

  acquire (signal?: AbortSignal): Permit | Promise<Permit> {
    if (signal?.aborted === true) return Promise.reject(signal.reason)
    if (!this.#shared) {
      if (this.#failing) {
        this.#counters.rejected++
        return Promise.reject(storeUnavailable())
      }
      // The memory limiter's fast path, on this replica's own window.
      if (this.#queue.head === undefined && this.#running < this.#maxConcurrent && !this.#paused() && !this.#closed &&
          this.#local.tryTake() === 0) {
        return this.#start(undefined, true)
      }
    }
    return this.#enqueue(signal)
  }

  pauseFor (ms: number): void {
    this.pauseUntil(this.#now() + ms)
  }

  pauseUntil (untilMs: number): void {
    this.#counters.observed429++
    const now = this.#now()
    if (!(untilMs > now) || untilMs <= this.#pausedUntil) return
    this.#pausedUntil = untilMs
    this.#counters.pauses++
    this.#log?.info({ pauseMs: untilMs - now, pausedUntil: untilMs }, 'upstream paused')
    this.#rejectOutlasted()
    if (!this.#conn.available) return
    const message: StoreMessage = { t: 'pause', k: this.#keys.pause, ms: untilMs - now, from: this.#conn.replicaId }
    this.#scripts.pause([this.#keys.pause], [untilMs - now, this.#conn.channel, JSON.stringify(message)])
      .catch((err: unknown) => this.#conn.failed(err, 'pause'))
  }

  observe (headers: Readonly<Record<string, string | string[] | undefined>>): void {
    if (!this.#windowed) return
    const upstreamRemaining = remainingFrom(headers)
    if (upstreamRemaining === undefined) return
    // The local window learns too: it is what this replica falls back on.
    const localExcess = this.#local.remaining() - upstreamRemaining
    if (localExcess > 0) this.#local.addPhantomStarts(localExcess)
    if (this.#conn.available) {
      this.#scripts.observe([this.#keys.starts, this.#keys.pending], [this.#requests, this.#windowMs, upstreamRemaining, this.#member()])
        .catch((err: unknown) => this.#conn.failed(err, 'observe'))
    } else if (localExcess > 0) {
      for (let i = 0; i < localExcess; i++) this.#remember()
    }
  }

  status (): LimiterStatus {
    const remaining = this.#shared ? Math.max(0, Math.min(this.#sharedRemaining ?? this.#requests, this.#requests)) : this.#local.remaining()
    return limiterStatus({
      requests: this.#requests,
      windowMs: this.#windowed ? this.#windowMs : 0,
      remaining,
      queued: this.#queue.length,
      running: this.#running
    }, this.#counters, this.#paused() ? this.#wallNow() + (this.#pausedUntil - this.#now()) : undefined)
  }

  close (): void {
    this.#closed = true
    this.#disarm()
    for (const unsubscribe of this.#unsubscribe) unsubscribe()
    this.#counters.rejected += this.#queue.rejectAll(() => new ShuttingDown())
  }

  /** For SharedPermit: the upstream answered. */
  stampStart (member: string | undefined, local: boolean): void {
    if (local) this.#local.commit()
    if (this.#windowed) {
      // A start made on the local window (member undefined): Redis learns it now, or when it returns.
      if (member === undefined && !this.#conn.available) this.#remember()
      else this.#stamp(member ?? this.#member())
    }
    // A local stamp can decide when the local window's next unit frees.
    if (this.#queue.head !== undefined && !this.#shared) this.#arm(this.#now())
  }

  /**
   * Lost (Redis away), the unit stays pending until its hold ends, never less
   * than a real stamp; and it is written back when Redis returns, in case
   * Redis lost it (a restart without persistence).
   */
  #stamp (member: string): void {
    const answeredAt = this.#now()
    this.#scripts.stamp([this.#keys.starts, this.#keys.pending], [member, this.#windowMs])
      .catch((err: unknown) => {
        this.#conn.failed(err, 'stamp')
        this.#remember(answeredAt)
      })
  }

  /** For SharedPermit: its start never reached the upstream; its pending units are free again. */
  giveBackUnit (member: string | undefined, local: boolean): void {
    if (local) this.#local.giveBack()
    if (member !== undefined && this.#conn.available) {
      this.#conn.client.zrem(this.#keys.pending, member).catch((err: unknown) => this.#conn.failed(err, 'give back'))
    }
    if (this.#queue.head !== undefined) this.#drain()
  }

  /** Waiters whose maxWait ends before the pause does could only time out: they leave now (deadlines are in queue order). */
  #rejectOutlasted (): void {
    const now = this.#now()
    const until = this.#pausedUntil
    this.#counters.rejected += this.#queue.rejectExpired(until, () => upstreamPaused(until - now))
  }

  /** For SharedPermit: give back a concurrency slot. */
  freeSlot (): void {
    this.#running--
    if (this.#running === this.#maxConcurrent - 1 && this.#queue.head !== undefined) this.#drain()
  }

  /** A start made while Redis is away, for #resync. Only the last window's matter, so the list stays short. */
  #remember (at = this.#now()): void {
    if (this.#offline.length >= 2 * this.#requests) this.#offline = this.#offline.filter((stamp) => at - stamp < this.#windowMs)
    this.#offline.push(at)
  }

  #member (): string {
    return `${this.#conn.replicaId}.${++this.#seq}`
  }

  #paused (): boolean {
    if (this.#pausedUntil === 0) return false
    if (this.#pausedUntil > this.#now()) return true
    this.#pausedUntil = 0
    return false
  }

  #start (member: string | undefined, local: boolean): Permit {
    this.#running++
    this.#counters.started++
    return new SharedPermit(this, member, local)
  }

  #enqueue (signal: AbortSignal | undefined): Promise<Permit> {
    if (this.#closed) {
      this.#counters.rejected++
      return Promise.reject(new ShuttingDown())
    }
    const now = this.#now()
    // With the shared window every acquire passes through the queue for one
    // round trip; it counts as waiting (against maxQueue) only once the
    // limiter knows the upstream is blocked. A burst that arrived before it
    // knew is trimmed when Redis says no (#trim).
    if (this.#queue.length >= this.#maxQueue && (!this.#shared || this.#blocked(now))) return Promise.reject(this.#full(now))
    if (this.#paused() && this.#pausedUntil > now + this.#maxWaitMs) {
      this.#counters.rejected++
      return Promise.reject(upstreamPaused(this.#pausedUntil - now))
    }
    const waiting = this.#queue.wait(now, now + this.#maxWaitMs, signal)
    if (this.#shared) this.#drain()
    else this.#arm(now)
    return waiting
  }

  #full (now: number): LimiterRejection {
    this.#counters.rejected++
    if (!this.#fullWarned) {
      this.#fullWarned = true
      this.#log?.warn({ maxQueue: this.#maxQueue }, 'limiter queue full')
    }
    return queueFull(this.#queue.length, this.#nextStartAt(now) - now)
  }

  /** What is known to hold the queue back now, without asking Redis. */
  #blocked (now: number): boolean {
    return this.#running >= this.#maxConcurrent || this.#paused() || now < this.#retryAt
  }

  /** Start what can start, in order; time out the waiters past maxWait; set the timer. */
  #drain (): void {
    const now = this.#now()
    this.#counters.rejected += this.#queue.rejectExpired(now, this.#timedOut)
    if (this.#queue.head === undefined || this.#closed) {
      this.#disarm()
      return
    }
    if (!this.#reserving) {
      if (this.#shared) {
        if (!this.#blocked(now)) this.#reserve(Math.min(this.#queue.length, this.#maxConcurrent - this.#running, MAX_BATCH))
      } else if (this.#failing) {
        this.#counters.rejected += this.#queue.rejectAll(storeUnavailable)
      } else {
        while (this.#queue.head !== undefined && this.#running < this.#maxConcurrent && !this.#paused() && this.#local.tryTake() === 0) {
          this.#counters.waited++
          this.#queue.shift()?.resolve(this.#start(undefined, true))
        }
      }
    }
    this.#arm(now)
  }

  /** One round trip: up to `n` pending units for the head of the queue. */
  #reserve (n: number): void {
    this.#reserving = true
    const base = this.#member()
    this.#scripts.acquire([this.#keys.starts, this.#keys.pending, this.#keys.pause], [this.#requests, this.#windowMs, n, this.#holdMs, base])
      .then((reply) => {
        this.#reserving = false
        this.#granted(base, n, reply as [number, string, number, string])
      }, (err: unknown) => {
        this.#reserving = false
        // Nothing was taken as far as we know (if it was, the units' hold frees them). Next: local, or
        // 503; or, if the connection still looks fine, another try shortly, never a tight loop.
        this.#conn.failed(err, 'acquire')
        this.#retryAt = this.#now() + RETRY_AFTER_ERROR_MS
        this.#drain()
      })
  }

  #granted (base: string, asked: number, [taken, waitMs, remaining, pausedMs]: [number, string, number, string]): void {
    const now = this.#now()
    this.#sharedRemaining = remaining
    const pauseLeft = Number(pausedMs)
    if (pauseLeft > 0 && now + pauseLeft > this.#pausedUntil) this.#pausedUntil = now + pauseLeft
    let given = 0
    while (given < taken && this.#queue.head !== undefined && !this.#closed && this.#running < this.#maxConcurrent) {
      this.#counters.waited++
      given++
      // The local window counts this replica's starts too (what it falls back on); full locally, it is simply not counted there.
      this.#queue.shift()?.resolve(this.#start(`${base}.${given}`, this.#local.tryTake() === 0))
    }
    if (given < taken) {
      // The waiters left (aborted, timed out) or we closed meanwhile: give the units back unused.
      const unused = Array.from({ length: taken - given }, (_, i) => `${base}.${given + i + 1}`)
      this.#conn.client.zrem(this.#keys.pending, ...unused).catch((err: unknown) => this.#conn.failed(err, 'give back'))
    }
    if (taken < asked) {
      this.#retryAt = now + Math.max(MIN_RETRY_MS, Number(waitMs)) + this.#random() * this.#jitterMs
      this.#trim(now)
    } else {
      this.#retryAt = 0
    }
    this.#drain()
  }

  /** Redis said no: waiters beyond maxQueue (the newest) leave now, as they would have at the door. */
  #trim (now: number): void {
    while (this.#queue.length > this.#maxQueue) {
      this.#queue.pop()?.reject(this.#full(now))
    }
  }

  /** When the next start could happen, as far as this replica knows (not maxConcurrent: unknowable). */
  #nextStartAt (now: number): number {
    const window = this.#shared ? Math.max(this.#retryAt, now) : this.#local.nextFreeAt()
    return Math.max(window, this.#pausedUntil)
  }

  /** One timer, for the earliest moment the head of the queue can move. */
  #arm (now: number): void {
    const head = this.#queue.head
    if (head === undefined) {
      this.#disarm()
      return
    }
    // While a round trip is under way, its answer drains; else only a release (which drains) or the deadline.
    const at = !this.#reserving && this.#running < this.#maxConcurrent ? Math.min(head.deadline, this.#nextStartAt(now)) : head.deadline
    // An earlier timer is kept: when it fires, #drain re-arms.
    this.#timer.armAt(at, now)
  }

  #disarm (): void {
    this.#timer.disarm()
  }

  /** Redis is (back) there: hand it the starts made without it, and learn the pause in force. */
  #resync (): void {
    if (this.#closed) return
    const now = this.#now()
    const ages = this.#offline.map((at) => now - at).filter((age) => age < this.#windowMs)
    this.#offline = []
    this.#scripts.resync([this.#keys.starts, this.#keys.pause], [this.#windowed ? this.#windowMs : 0, this.#member(), ...ages])
      .then((left) => {
        const pauseLeft = Number(left)
        if (pauseLeft > 0) this.#remotePause(pauseLeft)
        // Waiters queued on the local window go to the shared one now.
        if (this.#queue.head !== undefined) this.#drain()
      }, (err: unknown) => this.#conn.failed(err, 'resync'))
  }

  #message (message: StoreMessage): void {
    if (message.t !== 'pause' || message.k !== this.#keys.pause || message.from === this.#conn.replicaId) return
    if (typeof message.ms === 'number' && message.ms > 0) this.#remotePause(message.ms)
  }

  /** Another replica saw a 429 (or Redis holds a pause): no start here before it ends. */
  #remotePause (ms: number): void {
    const until = this.#now() + ms
    if (until <= this.#pausedUntil) return
    this.#pausedUntil = until
    this.#log?.info({ pauseMs: ms, pausedUntil: until }, 'upstream paused by another replica')
    this.#rejectOutlasted()
    // No re-arm needed: a pause only delays; the timer, when it fires, sees it and re-arms for its end.
  }
}

function storeUnavailable (): Error {
  return Object.assign(new StoreUnavailable('the rate limit is shared through Redis, which cannot be reached (store.onUnavailable: fail)'), { retryAfterMs: STORE_RETRY_AFTER_MS })
}
