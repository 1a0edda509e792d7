/**
 * The limiter of an upstream without `rateLimit`: acquire hands back one
 * shared no-op release, synchronously (habit H2: features that are off cost
 * nothing). It keeps no state, so all such upstreams share one instance.
 *
 * It ignores `pauseUntil`: with no limit configured, a 429 delays only the
 * request that received it (the proxy's retry loop waits its retry-after).
 */
import type { Limiter, LimiterStatus, Release } from './limiter.js'

const release: Release = () => {}

const status: LimiterStatus = Object.freeze({
  requests: Infinity,
  windowMs: 0,
  remaining: Infinity,
  queued: 0,
  running: 0,
  counters: Object.freeze({ started: 0, waited: 0, rejected: 0, pauses: 0, observed429: 0 })
})

const unlimited: Limiter = Object.freeze({
  acquire: () => release,
  pauseUntil: () => {},
  observe: () => {},
  status: () => status,
  close: () => {}
})

export function createUnlimited (): Limiter {
  return unlimited
}
