/**
 * The limiter for one upstream, chosen once at startup. Without `rateLimit`
 * there is no window and no concurrency bound, but a 429 still pauses the
 * whole upstream (the contract), so it is the same limiter with no window;
 * its fast path costs tens of nanoseconds (bench/limiter.ts).
 */
import type { RateLimitConfig } from '../config/types.js'
import type { Limiter } from './limiter.js'
import { createMemoryLimiter, type LimiterDeps } from './memory-limiter.js'
import { DEFAULT_MAX_QUEUE, DEFAULT_MAX_WAIT_MS } from '../config/defaults.js'

export type { Limiter, LimiterStatus, Permit } from './limiter.js'
export type { LimiterDeps, LimiterLog } from './memory-limiter.js'
export type { LimiterRejection } from './rejection.js'
export { capRetryAfter, parseRetryAfter, DEFAULT_RETRY_AFTER_MS, MAX_RETRY_AFTER_MS } from './retry-after.js'

const PAUSE_ONLY: RateLimitConfig = {
  requests: Infinity,
  windowMs: 0,
  maxConcurrent: Infinity,
  maxQueue: DEFAULT_MAX_QUEUE,
  maxWaitMs: DEFAULT_MAX_WAIT_MS
}

export function createLimiter (config: RateLimitConfig | undefined, deps?: LimiterDeps): Limiter {
  return createMemoryLimiter(config ?? PAUSE_ONLY, deps)
}
