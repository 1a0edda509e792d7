/**
 * The limiter for one upstream, chosen once at startup (habit H2): the memory
 * limiter when it has a `rateLimit`, else the shared no-op.
 */
import type { RateLimitConfig } from '../config/types.js'
import type { Limiter } from './limiter.js'
import { createMemoryLimiter, type LimiterDeps } from './memory-limiter.js'
import { createUnlimited } from './unlimited.js'

export type { Limiter, LimiterStatus, Release } from './limiter.js'
export type { LimiterDeps, LimiterLog } from './memory-limiter.js'
export type { LimiterRejection } from './rejection.js'
export { capRetryAfter, parseRetryAfter, DEFAULT_RETRY_AFTER_MS, MAX_RETRY_AFTER_MS } from './retry-after.js'

export function createLimiter (config: RateLimitConfig | undefined, deps?: LimiterDeps): Limiter {
  return config === undefined ? createUnlimited() : createMemoryLimiter(config, deps)
}
