/**
 * The limiter for one upstream, chosen once at startup. Without `rateLimit`
 * there is no window and no concurrency bound, but a 429 still pauses the
 * whole upstream (the contract), so it is the same limiter with no window;
 * its fast path costs tens of nanoseconds (bench/limiter.ts).
 */
import type { RateLimitConfig } from '../config/types.js'
import { DEFAULT_MAX_QUEUE, DEFAULT_MAX_WAIT_MS } from '../config/defaults.js'
import type { Limiter } from './limiter.js'
import { createMemoryWindow } from './memory-window.js'
import { createUpstreamLimiter, type LimiterDeps } from './upstream-limiter.js'
import type { WindowStore } from './window-store.js'

export type { Limiter, LimiterStatus, Permit } from './limiter.js'
export type { LimiterDeps, LimiterLog } from './upstream-limiter.js'
export type { LimiterRejection } from './rejection.js'
export type { Grant, Ticket, WindowEvents, WindowStore } from './window-store.js'

/** An upstream without `rateLimit`: no window, no bound on concurrency, only the pause. */
export const PAUSE_ONLY: RateLimitConfig = Object.freeze({
  requests: Infinity,
  windowMs: 0,
  maxConcurrent: Infinity,
  maxQueue: DEFAULT_MAX_QUEUE,
  maxWaitMs: DEFAULT_MAX_WAIT_MS
})

/**
 * A limiter over `store`, or over an in-process window when none is given.
 * `deps.now` is the monotonic clock of both (performance.now by default).
 */
export function createLimiter (config: RateLimitConfig | undefined, deps: LimiterDeps = {}, store?: WindowStore): Limiter {
  const rateLimit = config ?? PAUSE_ONLY
  const now = deps.now ?? performance.now.bind(performance)
  return createUpstreamLimiter(rateLimit, store ?? createMemoryWindow(rateLimit.requests, rateLimit.windowMs, now), { ...deps, now, wallNow: deps.wallNow ?? deps.now ?? Date.now })
}
