/**
 * The WindowStore (src/limit/window-store.ts) of one upstream when replicas
 * share a Redis: the sliding window, the 429 pause and the x-ratelimit
 * learning live in Redis, counted in buckets so that every script is bounded
 * by a constant, not by `requests` (window-scripts.ts has the keys and the
 * argument why buckets keep the window). The queue, maxQueue, maxWait and
 * maxConcurrent stay in this process, in the one limiter
 * (src/limit/upstream-limiter.ts): they are about this replica's callers and
 * sockets, not about the vendor's quota.
 *
 * Why our own Lua and not Bottleneck's cluster mode: its Redis datastore is
 * unmaintained (last release 2019) and broken on Redis 7, which prefixes Lua
 * errors with `ERR ` so its recovery code never matches
 * (SGrondin/bottleneck#205, #212, #219; fix #215 unmerged); and it is a
 * fixed-window reservoir.
 *
 * Every unit this replica takes is also counted in a local window (the exact
 * one of sliding-window.ts), which is what the replica falls back on:
 * - Redis declared lost (redis-client.ts decides), `onUnavailable: local`:
 *   the local window alone decides; it has counted this replica's starts all
 *   along, so the replica does not burst the moment Redis goes. The starts
 *   made meanwhile are tallied per bucket and written back when Redis
 *   returns (RESYNC: at most one pair per bucket).
 * - One command failing while Redis is not declared lost (a timeout): that
 *   request alone is decided as `onUnavailable` says (local window, or 503).
 * - `onUnavailable: fail`: 503 TG_STORE_UNAVAILABLE.
 * Requests in flight are never touched: a stamp that cannot be written
 * leaves its unit pending until its hold ends, and is tallied for the resync.
 * A 429 met meanwhile pauses this replica; what is left of that pause is
 * written to Redis at the resync, so the others are paused too.
 */
import { randomBytes } from 'node:crypto'
import type { RateLimitConfig } from '../config/types.js'
import { StoreUnavailable } from '../errors.js'
import { type Clock, NO_WINDOW, SlidingWindow, type StartWindow, takeUpTo } from '../limit/sliding-window.js'
import type { Grant, Ticket, WindowEvents, WindowStore } from '../limit/window-store.js'
import { FallbackShare } from './fallback-share.js'
import type { RedisConnection, StoreMessage } from './redis-client.js'
import type { ReplicaRegistry, WindowLimits } from './replica-registry.js'
import type { Script } from './scripts.js'
import { ACQUIRE, OBSERVE, PAUSE, RESYNC, SETTLE } from './window-scripts.js'

/** Start buckets per window: a start is held at most window / this longer than exact (1 % of throughput at worst, 0.5 % on average). */
export const STARTS_PER_WINDOW = 100
/** Pending buckets per hold: a dead replica's units free at most hold / this late. */
export const PENDING_BUCKETS = 16
/** Retry jitter: up to this, or a fiftieth of the window when that is less, so replicas woken for one unit do not all ask at once. */
const MAX_JITTER_MS = 20
/** Only a reply this quick tells the Redis clock's offset closely enough (within half of it). */
const OFFSET_RTT_MS = 50
/** Retry-After of a 503 TG_STORE_UNAVAILABLE. */
const STORE_RETRY_AFTER_MS = 1000

/** An unshared pause is tried again this often (the connection's cool-down after an error answer). */
const PAUSE_RETRY_MS = 1000
/** ... and, while the store is still set aside then, looked at again this often (only while the pause lasts). */
const PAUSE_RECHECK_MS = 250

/** A unit counted only in this replica's local window (Redis was not asked, or did not answer). */
const LOCAL: Ticket = Symbol('local unit')

export interface RedisWindowOptions {
  readonly upstream: string
  readonly config: Pick<RateLimitConfig, 'requests' | 'windowMs'>
  /** The longest a unit can stay pending (acquire → answer): token wait + upstream timeout + slack. */
  readonly maxPendingMs: number
  readonly connection: RedisConnection
  /** Who else shares the store: the shared limits and the fallback share's k (replica-registry.ts). */
  readonly registry?: ReplicaRegistry
  /** Monotonic ms (performance.now by default): the local window and the offline tally. */
  readonly now?: Clock
  readonly random?: () => number
}

export function createRedisWindow (options: RedisWindowOptions): WindowStore {
  return new RedisWindow(options)
}

/** ACQUIRE's answer (window-scripts.ts): taken, waitMs, remaining, pausedMs, ticket, Redis now. */
type AcquireReply = [number, string, number, string, string, string]

interface Keys {
  readonly starts: string
  readonly pending: string
  readonly pause: string
  readonly clock: string
  readonly epoch: string
}

class RedisWindow implements WindowStore {
  readonly requests: number
  readonly windowMs: number
  readonly #windowed: boolean
  readonly #conn: RedisConnection
  readonly #keys: Keys
  readonly #holdMs: number
  readonly #bucketMs: number
  readonly #pendingBucketMs: number
  readonly #jitterMs: number
  readonly #now: Clock
  readonly #random: () => number
  readonly #acquire: Script
  readonly #settle: Script
  readonly #observe: Script
  readonly #pause: Script
  readonly #resync: Script
  /** This replica's own starts, always. */
  readonly #local: StartWindow
  /** What this replica may start while Redis is away: its share of N (fallback-share.ts). */
  readonly #fallback: StartWindow & Partial<Pick<FallbackShare, 'begin' | 'end' | 'allowed' | 'room'>>
  readonly #upstream: string
  /** The same window as #local when there is one: its stamps are written back to a Redis that lost them. */
  readonly #own: SlidingWindow | undefined
  readonly #maxPendingMs: number
  readonly #registry: ReplicaRegistry | undefined
  /** The deployment's epoch of this upstream's keys as last seen: another one means Redis lost them (resync). */
  #epoch = ''
  /** Units of shared tickets that also hold a unit of the local window (units are alike there: a count suffices). */
  #localHeld = 0
  /** Starts Redis may not know of (made on the local window, or their stamp failed): local bucket end → count. */
  readonly #offline = new Map<number, number>()
  #resyncing = false
  /** The end of the latest 429 pause this replica met (monotonic ms). */
  #pausedUntil = 0
  /** A pause met while Redis was away (or whose write failed): written, for what is left of it, at the next resync. */
  #pauseUnshared = false
  /** The next try of an unshared pause. */
  #pauseRetry: NodeJS.Timeout | undefined
  #closed = false
  /** Redis time minus this process' clock, from the last quick ACQUIRE reply: turns a command timeout into a Redis deadline. */
  #redisOffset: number | undefined
  /** The shared remaining as of the last ACQUIRE, for status(). */
  #sharedRemaining: number | undefined
  #events: WindowEvents | undefined
  #unsubscribe: Array<() => void> = []

  constructor (options: RedisWindowOptions) {
    const { config, connection } = options
    this.requests = config.requests
    this.#windowed = config.requests !== Infinity
    this.windowMs = this.#windowed ? config.windowMs : 0
    this.#conn = connection
    this.#now = options.now ?? performance.now.bind(performance)
    this.#random = options.random ?? Math.random
    this.#holdMs = options.maxPendingMs + this.windowMs
    // Whole ms: bucket ends are hash fields, and every replica must name a bucket alike.
    this.#bucketMs = Math.max(1, Math.floor(this.windowMs / STARTS_PER_WINDOW))
    this.#pendingBucketMs = Math.max(1, Math.floor(this.#holdMs / PENDING_BUCKETS))
    this.#jitterMs = Math.min(MAX_JITTER_MS, this.windowMs / 50)
    const local = this.#windowed ? new SlidingWindow(config.requests, config.windowMs, this.#now) : undefined
    this.#local = local ?? NO_WINDOW
    this.#own = local
    this.#maxPendingMs = options.maxPendingMs
    this.#upstream = options.upstream
    this.#registry = options.registry
    this.#fallback = local === undefined ? NO_WINDOW : new FallbackShare(local, this.#now, () => options.registry?.fallbackDivisor() ?? { k: undefined, seen: false })
    if (local !== undefined) options.registry?.publish(options.upstream, { requests: this.requests, windowMs: this.windowMs })
    const base = `${connection.keyPrefix}limit:{${options.upstream}}`
    this.#keys = { starts: `${base}:starts`, pending: `${base}:pending`, pause: `${base}:pause`, clock: `${base}:clock`, epoch: `${base}:epoch` }
    this.#acquire = connection.script('tollgateWindowAcquire', 4, ACQUIRE)
    this.#settle = connection.script('tollgateWindowSettle', 3, SETTLE)
    this.#observe = connection.script('tollgateWindowObserve', 3, OBSERVE)
    this.#pause = connection.script('tollgateWindowPause', 2, PAUSE)
    this.#resync = connection.script('tollgateWindowResync', 4, RESYNC)
  }

  /** The limits the shared window uses: the strictest any live replica publishes (replica-registry.ts), else this one's. */
  get #limits (): WindowLimits {
    return this.#registry?.shared(this.#upstream) ?? this
  }

  /** The shared window is in use: this upstream has one, and Redis is there. */
  get #shared (): boolean {
    return this.#windowed && this.#conn.available
  }

  takeNow (): Ticket | undefined {
    // No window: every unit is granted here; only the pause is shared.
    if (!this.#windowed) return LOCAL
    if (this.#shared || this.#conn.onUnavailable === 'fail') return undefined
    this.#fallback.begin?.(this.#sharedRemaining)
    return this.#fallback.tryTake() === 0 ? LOCAL : undefined
  }

  take (n: number): Grant | Promise<Grant> {
    if (!this.#shared) return this.#takeLocally(n)
    // Just back from a fallback: the share still bounds this replica (fallback-share.ts).
    const room = this.#fallback.room?.()
    if (room !== undefined) {
      if (room.units === 0) return { taken: 0, ticket: LOCAL, waitMs: room.waitMs, pausedMs: 0 }
      n = Math.min(n, room.units)
    }
    const sentAt = this.#now()
    // Redis takes nothing for a call it runs after half our command timeout: we may have given up on it by then.
    const deadline = this.#redisOffset === undefined ? 0 : sentAt + this.#redisOffset + this.#conn.commandTimeoutMs / 2
    const { requests, windowMs } = this.#limits
    return this.#acquire([this.#keys.starts, this.#keys.pending, this.#keys.pause, this.#keys.clock], [requests, windowMs, n, this.#maxPendingMs + Math.max(this.windowMs, windowMs), this.#pendingBucketMs, deadline.toFixed(3)])
      .then((reply) => this.#granted(reply as AcquireReply, sentAt),
        // The connection has recorded the failure; this request alone is decided as onUnavailable says.
        () => this.#takeLocally(n))
  }

  stamp (ticket: Ticket): void {
    if (!this.#windowed) return
    if (ticket === LOCAL) {
      this.#local.commit()
      this.#tally(1)
      if (this.#conn.available) this.#flush()
      return
    }
    this.#settleLocal(true)
    const answeredAt = this.#now()
    const { windowMs } = this.#limits
    this.#settle([this.#keys.starts, this.#keys.pending, this.#keys.clock], [ticket as string, 1, 1, windowMs, bucketWidth(windowMs)])
      // Redis may not have counted it: it is written back at the next resync (its pending unit holds meanwhile).
      .catch(() => this.#tally(1, answeredAt))
  }

  giveBack (ticket: Ticket): void {
    if (!this.#windowed) return
    if (ticket === LOCAL) {
      this.#fallback.giveBack()
      return
    }
    this.#settleLocal(false)
    const { windowMs } = this.#limits
    // A failure leaves the unit pending until its hold ends: late, never early.
    this.#settle([this.#keys.starts, this.#keys.pending, this.#keys.clock], [ticket as string, 1, 0, windowMs, bucketWidth(windowMs)])
      .catch(() => {})
  }

  learnRemaining (remaining: number): void {
    if (!this.#windowed) return
    // The local window learns too: it is what this replica falls back on.
    const excess = this.#local.remaining() - remaining
    if (excess > 0) this.#local.addPhantomStarts(excess)
    if (this.#conn.available) {
      const { requests, windowMs } = this.#limits
      this.#observe([this.#keys.starts, this.#keys.pending, this.#keys.clock], [requests, windowMs, remaining, bucketWidth(windowMs)])
        .catch(() => {})
    } else if (excess > 0) {
      this.#tally(excess)
    }
  }

  pause (ms: number): void {
    this.#pausedUntil = Math.max(this.#pausedUntil, this.#now() + ms)
    if (!this.#conn.available) {
      // The other replicas learn of it when Redis is back (#flush, or the retry), for what is left of it.
      this.#unshared()
      return
    }
    this.#sharePause(ms)
  }

  remaining (): number {
    if (!this.#shared) return this.#fallback.remaining()
    const { requests } = this.#limits
    return Math.max(0, Math.min(this.#sharedRemaining ?? requests, requests))
  }

  sharing (): WindowSharing | undefined {
    if (!this.#windowed) return undefined
    const { requests, windowMs } = this.#limits
    const fallbackShare = this.#fallback.allowed?.()
    return { shared: { requests, windowMs }, ...(fallbackShare === undefined ? {} : { fallbackShare }) }
  }

  freeInMs (): number {
    // Shared: only Redis knows; the limiter waits for what the last ACQUIRE said.
    return this.#shared ? 0 : Math.max(0, this.#local.nextFreeAt() - this.#now())
  }

  listen (events: WindowEvents): void {
    this.#events = events
    this.#unsubscribe = [
      this.#conn.onReady(() => this.#flush()),
      // Waiters timed for Redis' answer move to the local window (or get their 503) now.
      this.#conn.onLost(() => events.changed()),
      this.#conn.onMessage((message) => this.#message(message)),
      // A pause published while the subscriber was away (another replica's, written back as Redis returned): read it.
      this.#conn.onSubscribed(() => { if (this.#conn.available) this.#flush() })
    ]
    // Joining while another replica's pause runs: learn it now, not at the first 429.
    if (this.#conn.available) this.#flush()
  }

  close (): void {
    for (const unsubscribe of this.#unsubscribe) unsubscribe()
    this.#unsubscribe = []
    this.#closed = true
    clearTimeout(this.#pauseRetry)
  }

  /** Units from the local window alone, or, with onUnavailable: fail, the 503 for the waiters asked for. */
  #takeLocally (n: number): Grant {
    if (this.#windowed && this.#conn.onUnavailable === 'fail') throw storeUnavailable()
    this.#fallback.begin?.(this.#sharedRemaining)
    return { ...takeUpTo(this.#fallback, n), ticket: LOCAL, pausedMs: 0 }
  }

  #granted ([taken, waitMs, remaining, pausedMs, ticket, redisNow]: AcquireReply, sentAt: number): Grant {
    const receivedAt = this.#now()
    if (this.#redisOffset === undefined || receivedAt - sentAt <= OFFSET_RTT_MS) this.#redisOffset = Number(redisNow) - (sentAt + receivedAt) / 2
    this.#sharedRemaining = remaining
    this.#fallback.end?.()
    // The local window counts this replica's starts too; full locally, a unit is simply not counted there.
    for (let i = 0; i < taken; i++) if (this.#local.tryTake() === 0) this.#localHeld++
    const wait = Number(waitMs)
    return {
      taken,
      ticket,
      waitMs: wait > 0 ? wait + this.#random() * this.#jitterMs : 0,
      pausedMs: Number(pausedMs)
    }
  }

  /** A shared unit is stamped or given back: so is one local unit it held, if it held one. */
  #settleLocal (stamped: boolean): void {
    if (this.#localHeld === 0) return
    this.#localHeld--
    if (stamped) this.#local.commit()
    else this.#local.giveBack()
  }

  /** Count `count` starts made at `at` in the offline tally, one entry per bucket; entries out of the window go. */
  #tally (count: number, at = this.#now()): void {
    if (!this.#windowed) return
    const end = Math.ceil(at / this.#bucketMs) * this.#bucketMs
    this.#offline.set(end, (this.#offline.get(end) ?? 0) + count)
    // Bounded: at most one entry per bucket of the last window (and a few just out of it).
    if (this.#offline.size > STARTS_PER_WINDOW + 1) {
      for (const bucket of this.#offline.keys()) if (bucket + this.windowMs <= at) this.#offline.delete(bucket)
    }
  }

  /**
   * Hand Redis the tallied starts and learn the pause in force; one call at a
   * time, again while there is more. When Redis has lost this upstream's keys
   * (restarted empty: its epoch is not the one this replica last saw), it
   * takes every start of this replica still in the window instead.
   */
  #flush (): void {
    if (this.#resyncing) return
    this.#resyncing = true
    const now = this.#now()
    const pairs: number[] = []
    for (const [end, count] of this.#offline) if (now - end < this.windowMs) pairs.push(Math.max(0, now - end), count)
    this.#offline.clear()
    const { windowMs } = this.#limits
    const width = bucketWidth(windowMs)
    this.#resync([this.#keys.starts, this.#keys.pause, this.#keys.clock, this.#keys.epoch],
      [windowMs, width, this.#epoch, newEpoch(), pairs.length / 2, ...pairs, ...this.#ownStarts(width)])
      .then((reply) => {
        this.#resyncing = false
        const [left, epoch] = reply as [string, string]
        this.#epoch = epoch
        const pauseLeft = Number(left)
        if (pauseLeft > 0) this.#events?.paused(pauseLeft)
        this.#shareUnshared()
        // Waiters queued on the local window go to the shared one now.
        this.#events?.changed()
        if (this.#offline.size > 0 && this.#conn.available) this.#flush()
      }, () => {
        this.#resyncing = false
        // Not written: keep them for the next resync.
        for (let i = 0; i < pairs.length; i += 2) this.#tally(pairs[i + 1] as number, now - (pairs[i] as number))
      })
  }

  /** Every start of this replica in its window as (age, count) pairs, one per bucket, each aged as its newest start (a later bucket end, never an earlier one). */
  #ownStarts (width: number): number[] {
    const pairs: number[] = []
    let bucket = Number.NaN
    const now = this.#now()
    this.#own?.forEachStampAge((age) => {
      const at = Math.ceil((now - age) / width)
      if (at === bucket) {
        pairs[pairs.length - 2] = age
        pairs[pairs.length - 1] = (pairs[pairs.length - 1] as number) + 1
      } else {
        bucket = at
        pairs.push(age, 1)
      }
    })
    return pairs
  }

  /** Write a pause of `ms` from now to Redis and tell the other replicas; one that could not be written is #unshared. */
  #sharePause (ms: number): void {
    const message: StoreMessage = { t: 'pause', k: this.#keys.pause, ms, from: this.#conn.replicaId }
    this.#pause([this.#keys.pause, this.#keys.clock], [ms, this.#conn.channel, JSON.stringify(message)])
      .catch(() => { this.#unshared() })
  }

  /**
   * A pause the other replicas do not know of: written at the next resync
   * (Redis back after an outage), and tried again every PAUSE_RETRY_MS while
   * it lasts, for what is left of it: a store set aside for an error answer or
   * a timeout comes back without a resync.
   */
  #unshared (afterMs = PAUSE_RETRY_MS): void {
    this.#pauseUnshared = true
    if (this.#pauseRetry !== undefined || this.#closed) return
    this.#pauseRetry = setTimeout(() => {
      this.#pauseRetry = undefined
      if (!this.#pauseUnshared || this.#pausedUntil <= this.#now()) return
      // Still set aside (a timer may fire a hair before the cool-down it waited for ends): soon again.
      if (this.#conn.available) this.#shareUnshared()
      else this.#unshared(PAUSE_RECHECK_MS)
    }, afterMs).unref()
  }

  /** What is left of an unshared pause, written now. */
  #shareUnshared (): void {
    if (!this.#pauseUnshared) return
    this.#pauseUnshared = false
    const left = this.#pausedUntil - this.#now()
    if (left > 0) this.#sharePause(left)
  }

  #message (message: StoreMessage): void {
    if (message.t !== 'pause' || message.k !== this.#keys.pause || message.from === this.#conn.replicaId) return
    if (typeof message.ms === 'number' && message.ms > 0) this.#events?.paused(message.ms)
  }
}

/** What /status shows of a shared window: the limits in force, and this replica's share while it falls back. */
export interface WindowSharing {
  readonly shared: WindowLimits
  readonly fallbackShare?: number
}

/** The start bucket width of a window (whole ms: bucket ends are hash fields, and every replica must name a bucket alike). */
function bucketWidth (windowMs: number): number {
  return Math.max(1, Math.floor(windowMs / STARTS_PER_WINDOW))
}

function newEpoch (): string {
  return randomBytes(8).toString('base64url')
}

function storeUnavailable (): Error {
  return Object.assign(new StoreUnavailable('the rate limit is shared through Redis, which cannot be reached (store.onUnavailable: fail)'), { retryAfterMs: STORE_RETRY_AFTER_MS })
}
