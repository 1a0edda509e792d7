/**
 * The per-upstream throttle as the proxy sees it. One implementation
 * (upstream-limiter.ts) over a WindowStore kept in this process or shared
 * through Redis (habit H8: one contract, two stores).
 */
import type { RateLimitConfig } from '../config/types.js'

/**
 * One request's hold on the limiter: a window unit, pending from acquire
 * until `answered()` stamps it (it then frees one window later), and a
 * concurrency slot until `release()`. Every permit must be released, or both
 * stay held for good.
 */
export interface Permit {
  /** The upstream answered (response headers, or an error): stamp this start now. Idempotent. */
  answered (): void
  /** The exchange is over: free the concurrency slot; stamps the start first if answered() was not called. Idempotent. */
  release (): void
  /**
   * Nothing of this start was sent upstream (the app left during the token
   * wait, or between attempts): free the slot and give the window unit back
   * unstamped. After answered(), the same as release(). Idempotent.
   */
  withdraw (): void
}

export interface LimiterStatus {
  readonly requests: number
  readonly windowMs: number
  /** Starts allowed now: units not held by a start in the window nor by a pending (unanswered) one. */
  readonly remaining: number
  readonly queued: number
  readonly running: number
  /** A window shared through a store: the limits in force there (the strictest any live replica uses). */
  readonly shared?: { readonly requests: number, readonly windowMs: number }
  /** While the shared store is away: the starts per window this replica may make (its share of `requests`). */
  readonly fallbackShare?: number
  /** Epoch ms until which the upstream is paused (429 / retry-after), if in the future. */
  readonly pausedUntil?: number
  readonly counters: {
    readonly started: number
    readonly waited: number
    readonly rejected: number
    readonly pauses: number
    readonly observed429: number
  }
}

/** The monotonic counts status() reports; each limiter keeps one and bumps it in place. */
export interface LimiterCounters {
  started: number
  waited: number
  rejected: number
  pauses: number
  observed429: number
}

export function createCounters (): LimiterCounters {
  return { started: 0, waited: 0, rejected: 0, pauses: 0, observed429: 0 }
}

/** A status() answer: a copy of the counters, and `pausedUntil` only while a pause lasts. */
export function limiterStatus (state: Omit<LimiterStatus, 'counters' | 'pausedUntil'>, counters: LimiterCounters, pausedUntil: number | undefined): LimiterStatus {
  const status = { ...state, counters: { ...counters } }
  return pausedUntil === undefined ? status : { ...status, pausedUntil }
}

export interface Limiter {
  /**
   * Wait for a start slot, at most `budgetMs` (maxWait by default; a retry
   * passes what is left of its request's maxWait). Resolves with a Permit;
   * a plain Permit when no wait was needed. Rejects with TG_QUEUE_FULL,
   * TG_QUEUE_TIMEOUT or TG_UPSTREAM_PAUSED (503, with `retryAfterMs` set),
   * with TG_STORE_UNAVAILABLE when a shared store is away and must not be
   * guessed at, or with the signal's reason when the app went away while
   * queued (then nothing is held).
   */
  acquire (signal?: AbortSignal, budgetMs?: number): Permit | Promise<Permit>
  /**
   * A permit at once when one is free and nobody waits, else undefined. Lets
   * the proxy skip making an AbortSignal for the common case (it is only
   * needed to leave the queue).
   */
  tryAcquire? (): Permit | undefined
  /**
   * The upstream said "wait `ms`": no request starts for that long. A
   * duration, so the caller never mixes its clock with the limiter's. Queued
   * waiters whose maxWait ends before the pause does leave at once with
   * TG_UPSTREAM_PAUSED, and so do arrivals whose deadline it outlasts.
   * Returns the ms left of the upstream's pause, which may be longer than
   * `ms` (an earlier 429's, another replica's): what a retry would wait.
   */
  pauseFor (ms: number): number
  /** Learn from the upstream's x-ratelimit-* response headers. */
  observe (headers: Readonly<Record<string, string | string[] | undefined>>): void
  status (): LimiterStatus
  /**
   * A config reload changed the upstream's rateLimit (PAUSE_ONLY for none):
   * the starts counted, the slots held, the queue and a pause all carry
   * over. Queued requests keep their deadlines; new limits apply to what
   * starts from now. A window shared by replicas keeps its size (a restart
   * changes it, window-store.ts).
   */
  reconfigure (config: RateLimitConfig): void
  close (): Promise<void> | void
}
