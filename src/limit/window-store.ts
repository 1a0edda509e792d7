/**
 * Where one upstream's window lives: the limiter (limiter.ts) asks it for
 * units and tells it what became of them; it never knows whether they are
 * counted in this process (memory-window.ts) or in Redis, shared by every
 * replica (src/store/redis-window.ts). Habit H8: one contract, two stores.
 *
 * A unit is taken *pending* (before anything is sent), then either stamped
 * (`stamp`, when the upstream answered: the start counts from then and frees
 * one window later) or given back unstamped (`giveBack`, when nothing of it
 * reached the upstream). sliding-window.ts proves why that keeps the vendor's
 * window.
 *
 * The queue, maxConcurrent, maxWait and the pause's effect on waiters are
 * the limiter's; the store only counts units and shares pauses.
 */

/**
 * What a store hands out for taken units: opaque to the limiter, passed back
 * to `stamp` or `giveBack` once per unit. A memory store needs no identity;
 * a Redis one says which bucket holds the pending unit.
 */
export type Ticket = unknown

export interface Grant {
  /** Units taken, 0..asked. Each one must be stamped or given back once. */
  readonly taken: number
  /** The ticket of every unit taken by this call. */
  readonly ticket: Ticket
  /** When fewer were taken than asked: ms until one more could be (a lower bound). 0 otherwise. */
  readonly waitMs: number
  /** A pause the store knows of (another replica's 429): ms left, or 0. */
  readonly pausedMs: number
}

/** What a store tells its limiter between calls. */
export interface WindowEvents {
  /** Another replica saw a 429 (or the store holds a pause): nothing starts for `ms`. */
  paused (ms: number): void
  /** The store changed in a way that may let waiters start (it came back, or fell back to local state): try again now. */
  changed (): void
}

export interface WindowStore {
  readonly requests: number
  readonly windowMs: number
  /**
   * One unit now, decided without I/O, or undefined: then ask `take`. The
   * hot path: a memory store answers here; a shared store only while it
   * runs on local state.
   */
  takeNow (): Ticket | undefined
  /**
   * Take up to `n` units (n >= 1). Synchronous when the state is in this
   * process. Rejects with the error to answer the requests with (503
   * TG_STORE_UNAVAILABLE) when the store cannot count them and must not guess.
   */
  take (n: number): Grant | Promise<Grant>
  /** The upstream answered the start holding this unit: it counts from now. */
  stamp (ticket: Ticket): void
  /** Nothing of this unit's start reached the upstream: it is free again. */
  giveBack (ticket: Ticket): void
  /** The upstream said `x-ratelimit-remaining: remaining`: lower the budget to match; never raises it. */
  learnRemaining (remaining: number): void
  /** This replica saw a 429: share the pause (the limiter has applied it already). */
  pause (ms: number): void
  /** Units free now, as far as this process can tell without I/O (for /status). */
  remaining (): number
  /** Ms until a unit could free, as far as this process knows (a Retry-After estimate; 0 when one is free). */
  freeInMs (): number
  /** A shared store's view for /status: the limits in force, and this replica's share while it falls back. */
  sharing? (): { readonly shared: { readonly requests: number, readonly windowMs: number }, readonly fallbackShare?: number } | undefined
  /**
   * A config reload changed the upstream's rateLimit (`requests` Infinity:
   * none now): the starts already counted stay counted under the new limit.
   * Absent in a store whose limits are not this process' alone to change (a
   * window shared by replicas): there a new limit needs a restart.
   */
  resize? (requests: number, windowMs: number): void
  /** Called once, by the limiter that owns this store. */
  listen (events: WindowEvents): void
  close (): void
}
