import { LRUCache } from 'lru-cache'
import type { CredentialSource, CredentialStatus } from './source.js'
import type { TokenAnswer, TokenFetchError } from './token-request.js'

/** Wait after the first failed fetch; it doubles with each further failure in a row ... */
export const BACKOFF_BASE_MS = 1000
/** ... up to this. A `retry-after` from the endpoint can ask for longer. */
export const BACKOFF_MAX_MS = 30_000

/** setTimeout's ceiling (~24.8 days): a longer delay would fire at once. */
const MAX_TIMER_MS = 2 ** 31 - 1

interface CachedToken {
  /** `Bearer <token>`, built once: the hot path hands out this very string. */
  readonly authorization: string
  /** When the request that got it was sent: lifetimes count from there, so expiry is never late. */
  readonly fetchedAt: number
  readonly expiresAt: number
  /** Process-wide order in which the fetch that got it started. */
  readonly seq: number
}

/**
 * The tokens of all sources in the process, by credentialKey. A source
 * rebuilt with the same credentials finds its live token here; a rotated
 * secret is another key and misses. Bounded so a process that keeps
 * rebuilding sources cannot grow without end; no LRU ttl, because expiry is
 * judged by each source's own clock.
 */
const tokens = new LRUCache<string, CachedToken>({ max: 1000 })
let fetchSequence = 0

export interface TokenCacheLog {
  info (obj: object, msg: string): void
  warn (obj: object, msg: string): void
  debug? (obj: object, msg: string): void
}

export interface TokenCacheOptions {
  /** credentialKey(upstream, auth). */
  readonly key: string
  /** One token request; rejects only with a TokenFetchError. */
  readonly fetchToken: () => Promise<TokenAnswer>
  readonly refreshBeforeMs: number
  readonly now: () => number
  readonly log?: TokenCacheLog | undefined
  readonly onFetch?: ((outcome: 'ok' | 'failed', reason?: string) => void) | undefined
}

/**
 * The credential source of an oauth2_client_credentials upstream.
 *
 * - Single flight: concurrent callers of a missing or expired token share
 *   one fetch and its outcome, failure included (habit H6, jose remote.ts).
 * - Refresh ahead: `refreshBeforeMs` (at most half the lifetime) before
 *   expiry a background fetch starts while the old token keeps serving.
 *   If it fails, the old token serves on and the fetch is retried with
 *   backoff for as long as the token lives.
 * - Never an expired token (envoyproxy/envoy#44674): past `expiresAt`
 *   callers wait on a fetch.
 * - Failure memory: after a failure, callers without a valid token get the
 *   same error at once until the backoff ends (1 s doubling to 30 s, or the
 *   endpoint's `retry-after` if longer), so a broken endpoint is not
 *   hammered.
 */
export function createTokenCache (options: TokenCacheOptions): CredentialSource {
  return new TokenCache(options)
}

class TokenCache implements CredentialSource {
  readonly #key: string
  readonly #fetchToken: () => Promise<TokenAnswer>
  readonly #refreshBeforeMs: number
  readonly #now: () => number
  readonly #log: TokenCacheLog | undefined
  readonly #onFetch: TokenCacheOptions['onFetch']
  #pending: Promise<string> | undefined
  #failure: { readonly error: TokenFetchError, readonly until: number } | undefined
  #failuresInARow = 0
  #timer: NodeJS.Timeout | undefined
  #closed = false
  #fetchesOk = 0
  #fetchesFailed = 0
  #lastRefreshAt: number | undefined
  #lastError: string | undefined

  constructor (options: TokenCacheOptions) {
    this.#key = options.key
    this.#fetchToken = options.fetchToken
    this.#refreshBeforeMs = options.refreshBeforeMs
    this.#now = options.now
    this.#log = options.log
    this.#onFetch = options.onFetch
    // A live token left by an earlier source with the same credentials is ours to refresh now.
    const token = this.#valid()
    if (token !== undefined) this.#scheduleRefresh(token)
  }

  authorization (): string | Promise<string> {
    const token = tokens.get(this.#key)
    if (token !== undefined) {
      if (this.#now() < token.expiresAt) return token.authorization
      // Expired: dropped, never handed out; the caller waits on a fetch.
      tokens.delete(this.#key)
    }
    if (this.#pending !== undefined) return this.#pending
    const failure = this.#failure
    if (failure !== undefined && this.#now() < failure.until) return Promise.reject(failure.error)
    return this.#fetch()
  }

  invalidate (value: string): void {
    // A 401 to an older token must not evict the newer one that replaced it.
    if (tokens.peek(this.#key)?.authorization !== value) return
    tokens.delete(this.#key)
    // Nothing left to refresh ahead: the next caller fetches.
    clearTimeout(this.#timer)
    this.#timer = undefined
  }

  status (): CredentialStatus {
    const token = this.#valid()
    const state = token !== undefined
      ? 'valid'
      : this.#pending !== undefined ? 'fetching' : this.#failure !== undefined ? 'failing' : this.#lastRefreshAt !== undefined ? 'expired' : 'none'
    return {
      type: 'oauth2_client_credentials',
      state,
      ...(token === undefined ? {} : { expiresAt: token.expiresAt }),
      ...(this.#lastRefreshAt === undefined ? {} : { lastRefreshAt: this.#lastRefreshAt }),
      ...(this.#lastError === undefined ? {} : { lastError: this.#lastError }),
      fetches: { ok: this.#fetchesOk, failed: this.#fetchesFailed }
    }
  }

  close (options?: { forget?: boolean }): void {
    // The token stays in the shared cache, so a source rebuilt with the same
    // credentials reuses it, unless those credentials were rotated away.
    if (options?.forget === true) tokens.delete(this.#key)
    this.#closed = true
    clearTimeout(this.#timer)
    this.#timer = undefined
  }

  #fetch (): Promise<string> {
    const current: Promise<string> = this.#run(++fetchSequence).finally(() => {
      // Identity check: only the fetch that set #pending may clear it.
      if (this.#pending === current) this.#pending = undefined
    })
    this.#pending = current
    return current
  }

  async #run (seq: number): Promise<string> {
    const fetchedAt = this.#now()
    let answer: TokenAnswer
    try {
      answer = await this.#fetchToken()
    } catch (err) {
      throw this.#failed(err as TokenFetchError)
    }
    const token: CachedToken = {
      authorization: `Bearer ${answer.accessToken}`,
      fetchedAt,
      expiresAt: fetchedAt + answer.lifetimeMs,
      seq
    }
    // A fetch that started later (another source with the same credentials) may have stored first: keep its token.
    const stored = tokens.peek(this.#key)
    const kept = stored !== undefined && stored.seq > seq ? stored : token
    if (kept === token) tokens.set(this.#key, token)
    this.#failure = undefined
    this.#failuresInARow = 0
    this.#fetchesOk++
    this.#lastRefreshAt = this.#now()
    this.#onFetch?.('ok')
    this.#log?.info({ expiresAt: token.expiresAt, lifetimeMs: answer.lifetimeMs }, 'token fetched')
    this.#scheduleRefresh(kept)
    return kept.authorization
  }

  #failed (error: TokenFetchError): TokenFetchError {
    this.#failuresInARow++
    this.#fetchesFailed++
    this.#lastError = error.detail
    const backoffMs = Math.max(error.retryAfterMs ?? 0, Math.min(BACKOFF_BASE_MS * 2 ** (this.#failuresInARow - 1), BACKOFF_MAX_MS))
    const until = this.#now() + backoffMs
    this.#failure = { error, until }
    this.#onFetch?.('failed', error.reason)
    this.#log?.warn({ reason: error.detail, backoffMs }, 'token fetch failed')
    // A background refresh failed: the token serves on, and the refresh is retried if that comes before expiry.
    const token = this.#valid()
    if (token !== undefined && until < token.expiresAt) this.#schedule(until)
    return error
  }

  #scheduleRefresh (token: CachedToken): void {
    // At most half the lifetime ahead, so a short-lived token is still used for a while.
    const aheadMs = Math.min(this.#refreshBeforeMs, (token.expiresAt - token.fetchedAt) / 2)
    this.#schedule(token.expiresAt - aheadMs)
  }

  #schedule (at: number): void {
    if (this.#closed) return
    clearTimeout(this.#timer)
    // Past MAX_TIMER_MS the refresh merely comes early: harmless.
    const delayMs = Math.min(Math.max(0, at - this.#now()), MAX_TIMER_MS)
    this.#timer = setTimeout(() => this.#refresh(), delayMs).unref()
  }

  #refresh (): void {
    this.#timer = undefined
    // A fetch under way schedules the next refresh when it succeeds.
    if (this.#pending !== undefined) return
    this.#log?.debug?.({}, 'token refresh started')
    // Its failure has been recorded (and a retry scheduled) by #failed; there is no caller to tell.
    this.#fetch().catch(() => {})
  }

  #valid (): CachedToken | undefined {
    const token = tokens.peek(this.#key)
    return token !== undefined && this.#now() < token.expiresAt ? token : undefined
  }
}
