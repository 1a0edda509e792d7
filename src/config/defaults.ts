/** Every default the config falls back to, named once (oauth2-proxy upstreams.go). */

/** A sidecar listens on loopback: only the app in the same host or pod can reach it. */
export const DEFAULT_HOST = '127.0.0.1'
export const DEFAULT_PORT = 8080
/** How long SIGTERM waits for in-flight requests before closing them. */
export const DEFAULT_SHUTDOWN_GRACE_MS = 10_000
export const DEFAULT_BODY_LIMIT = 10 * 1024 * 1024
/** A client slower than this to send its request headers is cut off (slowloris). */
export const DEFAULT_HEADERS_TIMEOUT_MS = 10_000
/**
 * A request, headers and body, must have arrived within this long of its
 * first byte (Node's requestTimeout), so a client that stalls mid-body is cut
 * off (408) instead of holding a socket for good. As long as the upstream
 * `timeout` by default, which already bounds a streamed upload.
 */
export const DEFAULT_BODY_TIMEOUT_MS = 30_000
export const DEFAULT_LOG_LEVEL = 'info'
export const DEFAULT_LOG_FORMAT = 'json'
export const DEFAULT_KEY_PREFIX = 'tollgate:'
/**
 * store.commandTimeout: a Redis command (or script) unanswered this long has
 * failed. That request alone is handled as store.onUnavailable says; the
 * store is not lost for it (issue 14: slow is not down). Every bound that
 * waits on Redis (token wait, limiter hold) is derived from it.
 */
export const DEFAULT_STORE_COMMAND_TIMEOUT_MS = 1000
/**
 * store.unavailableAfter: Redis is declared lost when commands have failed
 * this long without a success (or at once, when the connection drops).
 */
export const DEFAULT_STORE_UNAVAILABLE_AFTER_MS = 3000
/** Upstream response timeout: headers must arrive, and the body must not stall, within it. */
export const DEFAULT_UPSTREAM_TIMEOUT_MS = 30_000
export const DEFAULT_TOKEN_TIMEOUT_MS = 10_000
export const DEFAULT_REFRESH_BEFORE_MS = 60_000
export const DEFAULT_SIGNING_ALG = 'RS384'
export const DEFAULT_MAX_QUEUE = 1000
export const DEFAULT_MAX_WAIT_MS = 30_000
export const DEFAULT_RETRY_ON_429 = 2
export const DEFAULT_RETRY_ON_401 = 1
/** Idempotent methods only (RFC 9110 §9.2.2): replaying them is safe. */
export const DEFAULT_RETRY_METHODS = ['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE']
/** Paths the sidecar answers itself; no upstream prefix may take them. */
export const RESERVED_PATHS = ['/healthz', '/readyz', '/metrics', '/status']
