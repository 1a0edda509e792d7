/**
 * Where a token cache keeps the token state it shares: with other sources of
 * the same credentials in this process (memory-token-store.ts), or with
 * every replica on one Redis (src/store/redis-token-store.ts). One contract,
 * two stores (habit H8). The cache (token-cache.ts) owns the behaviour:
 * single flight, refresh ahead, failure memory, 401 repair. A store only
 * answers, atomically, who has which token and who may fetch the next one.
 *
 * A store keeps durations, never instants of a caller's clock: a token's
 * `ttlMs` is what is left of it when the store answered, a failure's
 * `backoffMs` what is left of its backoff.
 */
import type { TokenFailureReason } from './token-request.js'

/** Wait after the first failure in a row; it doubles with each further one ... */
export const BACKOFF_BASE_MS = 1000
/** ... up to this. A `retry-after` from the endpoint can ask for longer. */
export const BACKOFF_MAX_MS = 30_000
/** A row of failures is forgotten this long after its last failure. */
export const STREAK_TTL_MS = 5 * 60_000
/** The fetch lock outlives the holder's token request by this much: a holder that died frees it this long after its timeout. */
export const LOCK_SLACK_MS = 2000

/** `rejected`: the upstream answered 401 to the token's first use. */
export type FailureReason = TokenFailureReason | 'rejected'

export interface StoredToken {
  /** Tells tokens apart without holding them: compare-and-delete, invalidation events. */
  readonly id: string
  readonly accessToken: string
  /** The whole lifetime it was issued with: refresh ahead is judged against it. */
  readonly lifetimeMs: number
  /** What is left of it as of the store's answer. */
  readonly ttlMs: number
}

export interface Failure {
  /** Sanitised, as TokenFetchError's `detail`: safe for logs and /status. */
  readonly detail: string
  readonly reason: FailureReason
  /** How long the endpoint asked us to wait (429, 503), when it did. */
  readonly retryAfterMs?: number | undefined
}

/** The right to store the outcome of one fetch. Opaque: only the store that gave it reads it. */
export interface Lease {
  readonly owner: string
}

export interface ClaimRequest {
  /** The token the caller holds: asking while holding it means "a newer one" (a refresh), so it is never the answer. */
  readonly heldId: string | undefined
  readonly refreshBeforeMs: number
  /** How long the fetch lock is held at most. */
  readonly lockMs: number
}

/**
 * What a claim found. `streak` is the row of failures before it (failed
 * fetches and rejected tokens, across every sharer), which the first use of
 * the token ends (`TokenStore.confirm`).
 */
export type Claim =
  /** A token to use: fresh, or due while someone else refreshes it or the endpoint is failing. */
  | { readonly kind: 'token', readonly token: StoredToken, readonly streak: number }
  /** The last fetch failed (or its token was rejected), and its backoff still runs. */
  | { readonly kind: 'failure', readonly failure: Failure, readonly backoffMs: number }
  /** The caller is the one fetcher: `put` or `fail` next, with this lease. */
  | { readonly kind: 'fetch', readonly lease: Lease, readonly streak: number }
  /** Someone else is fetching, and there is nothing (newer) to use meanwhile. */
  | { readonly kind: 'wait', readonly waitMs: number }

/** `changed`: a token or a failure was stored (a waiting claimer may ask again). */
export type TokenEvent = { readonly kind: 'changed' } | { readonly kind: 'invalidated', readonly id: string }

export interface TokenStore {
  /**
   * The live token, when the store can tell without a round trip (the
   * memory store); a remote store leaves this out and answers in `claim`.
   * A source built over a store that already holds a token serves it at once.
   */
  read? (): StoredToken | undefined
  claim (request: ClaimRequest): Promise<Claim>
  /**
   * Store the leaseholder's new token, fenced: while the lease's lock is
   * still held, or, the lock lapsed and nobody else holds it, over no token
   * that outlives it. A fenced-off writer keeps using its token itself.
   */
  put (lease: Lease, token: StoredToken): Promise<void>
  /** The leaseholder's fetch failed: remember it for every sharer. Resolves to the backoff. */
  fail (lease: Lease, failure: Failure): Promise<number>
  /**
   * An upstream answered 401 to token `id`: delete it if it is still the one
   * stored (a newer one stays), and tell every sharer. With `rejection` (the
   * token's first use) it also counts as a failed fetch; resolves to its backoff.
   */
  invalidate (id: string, rejection?: Failure): Promise<number>
  /** Token `id` worked: the row of failures before it is over. Called only when a claim reported a streak. */
  confirm (id: string): void
  /** Stored tokens, failures and invalidations by any sharer. Returns the unsubscribe function. */
  watch (listener: (event: TokenEvent) => void): () => void
  /**
   * The credentials behind this store's tokens were rotated away: drop what
   * it holds, so no source hands it out again. A shared remote store leaves
   * this out: other replicas may still run on those credentials, and the
   * entry is theirs.
   */
  forget? (): void
}

/** The backoff after failure number `streak` in a row: every store applies this rule. */
export function failureBackoffMs (streak: number, retryAfterMs = 0): number {
  return Math.ceil(Math.max(retryAfterMs, Math.min(BACKOFF_BASE_MS * 2 ** Math.max(0, streak - 1), BACKOFF_MAX_MS)))
}

/** How long a fetch lock is held at most, for a token request timeout. */
export function fetchLockMs (timeoutMs: number): number {
  return timeoutMs + LOCK_SLACK_MS
}
