/**
 * Every error tollgate answers a client with. One place, stable codes,
 * status built in (fastify lib/errors.js). `docs/errors.md` lists them and
 * test/unit/errors.test.ts keeps the two in step.
 */
import createError from '@fastify/error'

/** The original error, kept for the log when a foreign error is translated at a boundary. */
type Cause = { cause: unknown }

export const UpstreamNotFound = createError<[string, Cause?]>('TG_UPSTREAM_NOT_FOUND', 'no upstream is configured for %s', 404)
export const PathEscapesBase = createError<[string, Cause?]>('TG_PATH_ESCAPES_BASE', 'the path %s', 400)
export const AbsoluteFormRefused = createError<[Cause?]>('TG_ABSOLUTE_FORM', 'absolute-form and authority-form request targets are refused: tollgate is not an open proxy', 400)
export const BodyTooLarge = createError<[number, Cause?]>('TG_BODY_TOO_LARGE', 'the request body is larger than the %d bytes this upstream accepts', 413)
export const TokenFetchFailed = createError<[string, Cause?]>('TG_TOKEN_FETCH_FAILED', 'the token endpoint failed: %s', 502)
export const TokenRejected = createError<[number, Cause?]>('TG_TOKEN_REJECTED', 'the upstream refused a new token on its first use (401): the next token request is in %d ms', 502)
export const UpstreamUnreachable = createError<[string, Cause?]>('TG_UPSTREAM_UNREACHABLE', 'the upstream could not be reached: %s', 502)
export const UpstreamBadResponse = createError<[string, Cause?]>('TG_UPSTREAM_BAD_RESPONSE', 'the upstream answered something that is not valid HTTP: %s', 502)
export const UpstreamTimeout = createError<[number, Cause?]>('TG_UPSTREAM_TIMEOUT', 'the upstream did not answer within %d ms', 504)
export const QueueFull = createError<[number, Cause?]>('TG_QUEUE_FULL', 'the queue for this upstream is full (%d waiting)', 503)
export const QueueTimeout = createError<[number, Cause?]>('TG_QUEUE_TIMEOUT', 'the request waited %d ms for a rate-limit slot', 503)
export const UpstreamPaused = createError<[number, Cause?]>('TG_UPSTREAM_PAUSED', 'the upstream asked for a pause that ends after this request\'s maxWait (%d ms left)', 503)
export const ShuttingDown = createError<[Cause?]>('TG_SHUTTING_DOWN', 'tollgate is shutting down', 503)
export const StoreUnavailable = createError<[string, Cause?]>('TG_STORE_UNAVAILABLE', 'the shared store is unavailable: %s', 503)
export const InboundDenied = createError<[Cause?]>('TG_INBOUND_DENIED', 'this client may not use tollgate', 403)
export const RequestTimeout = createError<[Cause?]>('TG_REQUEST_TIMEOUT', 'the request did not arrive in time', 408)
export const HeadersTooLarge = createError<[Cause?]>('TG_HEADERS_TOO_LARGE', 'the request headers are larger than allowed', 431)
export const BadRequest = createError<[string, Cause?]>('TG_BAD_REQUEST', '%s', 400)
