/**
 * The per-upstream throttle as the proxy sees it. The memory implementation
 * keeps state in-process; a Redis one shares it across replicas (habit H8:
 * one contract, two stores).
 */

/** Called once when the upstream response has ended (or failed): frees the concurrency slot. */
export type Release = () => void

export interface LimiterStatus {
  readonly requests: number
  readonly windowMs: number
  /** Starts still allowed in the current sliding window. */
  readonly remaining: number
  readonly queued: number
  readonly running: number
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

export interface Limiter {
  /**
   * Wait for a start slot. Resolves with the release function; a plain
   * Release when no wait was needed. Rejects with TG_QUEUE_FULL or
   * TG_QUEUE_TIMEOUT (503, with `retryAfterMs` set), or with the signal's
   * reason when the app went away while queued (then no slot is held).
   */
  acquire (signal?: AbortSignal): Release | Promise<Release>
  /** The upstream said "wait": no request starts before `untilMs` (epoch ms). */
  pauseUntil (untilMs: number): void
  /** Learn from the upstream's x-ratelimit-* response headers. */
  observe (headers: Readonly<Record<string, string | string[] | undefined>>): void
  status (): LimiterStatus
  close (): Promise<void> | void
}
