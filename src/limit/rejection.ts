/**
 * The 503s a limiter answers with, carrying when a retry could succeed. The
 * proxy turns `retryAfterMs` into `Retry-After` (whole seconds, rounded up).
 */
import type { FastifyError } from '@fastify/error'
import { QueueFull, QueueTimeout, UpstreamPaused } from '../errors.js'

export type LimiterRejection = FastifyError & { retryAfterMs: number }

/**
 * Floor for `retryAfterMs`. When only `maxConcurrent` blocks, nothing in the
 * limiter says when a slot frees; and `Retry-After: 0` invites a client to
 * retry in a tight loop. One second is the header's resolution anyway.
 */
export const MIN_RETRY_AFTER_MS = 1000

export function queueFull (queued: number, retryAfterMs: number): LimiterRejection {
  return withRetryAfter(new QueueFull(queued), retryAfterMs)
}

export function queueTimeout (waitedMs: number, retryAfterMs: number): LimiterRejection {
  return withRetryAfter(new QueueTimeout(Math.round(waitedMs)), retryAfterMs)
}

/** The pause outlasts the request's maxWait: no point waiting for it. */
export function upstreamPaused (pauseLeftMs: number): LimiterRejection {
  return withRetryAfter(new UpstreamPaused(Math.ceil(pauseLeftMs)), pauseLeftMs)
}

function withRetryAfter (err: FastifyError, retryAfterMs: number): LimiterRejection {
  return Object.assign(err, { retryAfterMs: Math.max(MIN_RETRY_AFTER_MS, Math.ceil(retryAfterMs)) })
}
