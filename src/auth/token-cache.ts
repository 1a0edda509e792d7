import { randomBytes } from 'node:crypto'
import { TokenRejected } from '../errors.js'
import type { TokenAsker, TokenFetchSpan, TokenFetchTracer } from '../telemetry/tracing.js'
import type { CredentialSource, CredentialStatus } from './source.js'
import { fetchFailure, type TokenAnswer, type TokenFetchError } from './token-request.js'
import { failureBackoffMs, fetchLockMs, type Failure, type FailureReason, type Lease, type StoredToken, type TokenEvent, type TokenStore } from './token-store.js'

/** setTimeout's ceiling (~24.8 days): a longer delay would fire at once. */
const MAX_TIMER_MS = 2 ** 31 - 1
/** While another source or replica fetches: ask the store again after 10 ms, doubling to 200 ms (its events wake us sooner). */
const POLL_MIN_MS = 10
const POLL_MAX_MS = 200
const REJECTED_DETAIL = 'the upstream answered 401 to its first use'

export interface TokenCacheLog {
  info (obj: object, msg: string): void
  warn (obj: object, msg: string): void
  debug? (obj: object, msg: string): void
}

export interface TokenCacheOptions {
  /** Where the token state shared with other sources or replicas lives. */
  readonly store: TokenStore
  /** One token request, traced by `span` when tracing is on; rejects only with a TokenFetchError. */
  readonly fetchToken: (span?: TokenFetchSpan) => Promise<TokenAnswer>
  /** The token request's timeout: it bounds the fetch lock, and how long we wait for another fetcher. */
  readonly fetchTimeoutMs: number
  readonly refreshBeforeMs: number
  /** Monotonic ms (performance.now): every lifetime, refresh time and backoff is read on it. */
  readonly now: () => number
  /** Epoch ms (Date.now): only to report instants (status(), the log), never to time anything. */
  readonly wallNow: () => number
  readonly log?: TokenCacheLog | undefined
  /** Metrics hook: once per token request, and once per token rejected on its first use. */
  readonly onFetch?: ((outcome: 'ok' | 'failed', reason?: string) => void) | undefined
  /** Tracing on: each token request is a span (telemetry/tracing.ts). */
  readonly tracer?: TokenFetchTracer | undefined
}

/**
 * The credential source of an oauth2_client_credentials upstream, over a
 * TokenStore (memory, or Redis shared by replicas).
 *
 * - Hot path: while the token is valid, authorization() is a plain string,
 *   read from this object; the store is not asked.
 * - Single flight: concurrent callers of a missing or expired token share
 *   one claim and its outcome, failure included (habit H6, jose remote.ts).
 *   The store's lock makes one fetcher of all sources and replicas; the
 *   others wait for its token (polling, woken by the store's events).
 * - Refresh ahead: `refreshBeforeMs` (at most half the lifetime) before
 *   expiry a background fetch starts while the old token keeps serving. If
 *   it fails, the old token serves on and the fetch is retried with backoff
 *   for as long as the token lives.
 * - Never an expired token (envoyproxy/envoy#44674): past expiry callers
 *   wait on a fetch.
 * - Failure memory: after a failure, callers without a valid token get the
 *   same error at once until the backoff ends (1 s doubling to 30 s, or the
 *   endpoint's `retry-after` if longer), so a broken endpoint is not hammered.
 * - 401 repair: a 401 drops the token it was for, and only that one. A token
 *   whose first use is answered 401 was never good (a wrong scope, a vendor
 *   not ready): that counts as a failed fetch, and until its backoff ends
 *   callers get TG_TOKEN_REJECTED, with nothing sent upstream.
 * - One clock: lifetimes and backoffs are read on the monotonic `now`; the
 *   wall clock is read only to report instants.
 * - Traced (when a tracer is given): the token request is a span, a child of
 *   the request that started the fetch (a root span for a refresh), linked
 *   from every request that waited for it; the valid-token path never looks.
 */
export function createTokenCache (options: TokenCacheOptions): CredentialSource {
  return new TokenCache(options)
}

interface Held {
  /** `Bearer <token>`, built once: the hot path hands out this very string. */
  readonly authorization: string
  readonly id: string
  readonly expiresAt: number
  readonly refreshAt: number
  /** Failures in a row before it, as the store counted them. */
  readonly streak: number
}

/** The fetch under way, as tracing sees it: who started it, its span once the request goes out, who waits. */
interface FetchTrace {
  readonly starter: TokenAsker | undefined
  span: TokenFetchSpan | undefined
  readonly waiters: TokenAsker[]
}

interface Remembered {
  readonly until: number
  readonly reason: FailureReason
  /** Handed out again as it is; a rejection gets a fresh TG_TOKEN_REJECTED with the backoff left. */
  readonly error: TokenFetchError
}

class TokenCache implements CredentialSource {
  /** A newer token replaced a refused one, or one is fetched (or, during a rejection's backoff, TG_TOKEN_REJECTED answers). */
  readonly renewable = true
  readonly #store: TokenStore
  readonly #fetchToken: (span?: TokenFetchSpan) => Promise<TokenAnswer>
  readonly #refreshBeforeMs: number
  readonly #lockMs: number
  readonly #maxWaitMs: number
  readonly #now: () => number
  readonly #wallNow: () => number
  readonly #log: TokenCacheLog | undefined
  readonly #onFetch: TokenCacheOptions['onFetch']
  readonly #tracer: TokenFetchTracer | undefined
  /** Only while a fetch runs with tracing on. */
  #fetchTrace: FetchTrace | undefined
  readonly #wake = new Set<() => void>()
  readonly #unwatch: () => void
  #held: Held | undefined
  /** The held token's value until an answer other than 401 shows that it works. */
  #unconfirmed: string | undefined
  #pending: Promise<string> | undefined
  #failure: Remembered | undefined
  #timer: NodeJS.Timeout | undefined
  #closed = false
  #fetchesOk = 0
  #fetchesFailed = 0
  #lastRefreshAt: number | undefined
  #lastError: string | undefined

  constructor (options: TokenCacheOptions) {
    this.#store = options.store
    this.#fetchToken = options.fetchToken
    this.#refreshBeforeMs = options.refreshBeforeMs
    this.#lockMs = fetchLockMs(options.fetchTimeoutMs)
    // A fetcher that died holding the lock is waited for until the lock lapses, and one more fetch of our own.
    this.#maxWaitMs = this.#lockMs + options.fetchTimeoutMs
    this.#now = options.now
    this.#wallNow = options.wallNow
    this.#log = options.log
    this.#onFetch = options.onFetch
    this.#tracer = options.tracer
    this.#unwatch = this.#store.watch((event) => this.#event(event))
    // A live token left by an earlier source with the same credentials is ours to serve and refresh now.
    const stored = this.#store.read?.()
    if (stored !== undefined) this.#adopt(stored, 0, this.#now())
  }

  authorization (asker?: TokenAsker | null): string | Promise<string> {
    const held = this.#held
    if (held !== undefined) {
      const now = this.#now()
      if (now < held.refreshAt) return held.authorization
      if (now < held.expiresAt) {
        // Due: the timer may not have fired yet (a busy loop, a clock that jumped); the old token serves meanwhile.
        this.#refreshDue(now)
        return held.authorization
      }
      // Expired: dropped, never handed out; the caller waits on a fetch.
      this.#drop()
    }
    if (this.#pending === undefined) return this.#missing(asker ?? undefined)
    if (asker !== undefined && asker !== null) this.#joined(asker)
    return this.#pending
  }

  invalidate (value: string): void {
    const held = this.#held
    // A 401 to an older token must not evict the newer one that replaced it.
    if (held === undefined || held.authorization !== value) return
    const firstUse = this.#unconfirmed === value
    this.#drop()
    if (!firstUse) {
      this.#store.invalidate(held.id).catch(() => {})
      return
    }
    // Never good: counted as a failed fetch, so neither the endpoint nor the upstream is asked again at once.
    const rejection: Failure = { detail: REJECTED_DETAIL, reason: 'rejected' }
    this.#fetchesFailed++
    this.#onFetch?.('failed', 'rejected')
    const backoffMs = failureBackoffMs(held.streak + 1)
    const startedAt = this.#now()
    const remembered = this.#remember(rejection, backoffMs)
    this.#log?.warn({ reason: REJECTED_DETAIL, backoffMs }, 'token rejected on its first use')
    this.#store.invalidate(held.id, rejection).then((sharedMs) => {
      // The store counts the failures in a row of every sharer: its backoff decides.
      if (this.#failure === remembered && sharedMs > 0) this.#failure = { ...remembered, until: startedAt + sharedMs }
    }, () => {})
  }

  confirmed (value: string): void {
    if (value !== this.#unconfirmed) return
    this.#unconfirmed = undefined
    // The row of failures it ends needs telling the store only when there was one: usually it costs nothing.
    const held = this.#held
    if (held !== undefined && held.streak > 0) this.#store.confirm(held.id)
  }

  status (): CredentialStatus {
    const now = this.#now()
    const held = this.#held !== undefined && now < this.#held.expiresAt ? this.#held : undefined
    const failure = this.#failure
    const state = held !== undefined
      ? 'valid'
      : this.#pending !== undefined
        ? 'fetching'
        : failure !== undefined
          ? (failure.reason === 'rejected' ? 'rejected' : 'failing')
          : this.#lastRefreshAt !== undefined ? 'expired' : 'none'
    return {
      type: 'oauth2_client_credentials',
      state,
      ...(held === undefined ? {} : { expiresAt: this.#wall(held.expiresAt, now) }),
      ...(this.#lastRefreshAt === undefined ? {} : { lastRefreshAt: this.#lastRefreshAt }),
      ...(this.#lastError === undefined ? {} : { lastError: this.#lastError }),
      fetches: { ok: this.#fetchesOk, failed: this.#fetchesFailed }
    }
  }

  close (options?: { forget?: boolean }): void {
    this.#closed = true
    clearTimeout(this.#timer)
    this.#timer = undefined
    this.#unwatch()
    for (const wake of [...this.#wake]) wake()
    // Without forget the token stays in the store, so a source rebuilt with the same credentials reuses it.
    if (options?.forget === true) this.#store.forget?.()
  }

  /** No valid token held. */
  #missing (asker: TokenAsker | undefined): string | Promise<string> {
    // Another source over the same store may have one (the memory store answers at once).
    const stored = this.#store.read?.()
    if (stored !== undefined) return this.#adopt(stored, 0, this.#now()).authorization
    const failure = this.#failure
    if (failure !== undefined) {
      const leftMs = failure.until - this.#now()
      if (leftMs > 0) return Promise.reject(errorOf(failure, leftMs))
    }
    return this.#fetch(asker)
  }

  /** `starter`: the request that needs it (traced as the fetch's parent); none for a refresh. */
  #fetch (starter?: TokenAsker): Promise<string> {
    const traced: FetchTrace | undefined = this.#tracer === undefined ? undefined : { starter, span: undefined, waiters: [] }
    const current: Promise<string> = this.#obtain(traced).finally(() => {
      // Identity check: only the fetch that set #pending may clear it.
      if (this.#pending === current) this.#pending = undefined
      if (this.#fetchTrace === traced) this.#fetchTrace = undefined
    })
    this.#pending = current
    this.#fetchTrace = traced
    return current
  }

  /** A request waits for the fetch under way: linked to its span (now, or once the token request goes out). */
  #joined (asker: TokenAsker): void {
    const traced = this.#fetchTrace
    if (traced === undefined || traced.starter === asker) return
    if (traced.span === undefined) traced.waiters.push(asker)
    else asker.waitedFor(traced.span)
  }

  /** The stored token, or the lock and a fetch, or a wait for whoever holds the lock. */
  async #obtain (traced: FetchTrace | undefined): Promise<string> {
    const startedAt = this.#now()
    let delayMs = POLL_MIN_MS
    for (;;) {
      if (this.#closed) throw fetchFailure('the sidecar is shutting down', 'network')
      const sentAt = this.#now()
      // Holding a token and asking again is a refresh: only a newer token will do.
      const claim = await this.#store.claim({ heldId: this.#held?.id, refreshBeforeMs: this.#refreshBeforeMs, lockMs: this.#lockMs })
      switch (claim.kind) {
        case 'token':
          this.#log?.debug?.({ expiresInMs: claim.token.ttlMs }, 'token read from the store')
          return this.#adopt(claim.token, claim.streak, sentAt).authorization
        case 'failure':
          this.#log?.debug?.({ reason: claim.failure.detail, backoffMs: claim.backoffMs }, 'token fetch failed elsewhere: backing off')
          throw errorOf(this.#remember(claim.failure, claim.backoffMs), claim.backoffMs)
        case 'fetch':
          return await this.#fetchFor(claim.lease, claim.streak, traced)
        case 'wait':
          if (this.#now() - startedAt >= this.#maxWaitMs) {
            throw fetchFailure(`no token from the fetch under way elsewhere within ${this.#maxWaitMs} ms`, 'timeout')
          }
          await this.#sleep(delayMs * (0.5 + Math.random()))
          delayMs = Math.min(2 * delayMs, POLL_MAX_MS)
      }
    }
  }

  /** We hold the lock: ask the token endpoint, and store the outcome for every sharer. */
  async #fetchFor (lease: Lease, streak: number, traced: FetchTrace | undefined): Promise<string> {
    // Lifetimes count from when the request was sent, so expiry is never late.
    const sentAt = this.#now()
    let span: TokenFetchSpan | undefined
    if (traced !== undefined && this.#tracer !== undefined) {
      span = traced.span = this.#tracer.start(traced.starter)
      for (const waiter of traced.waiters.splice(0)) waiter.waitedFor(span)
    }
    let answer: TokenAnswer
    try {
      answer = await this.#fetchToken(span)
    } catch (err) {
      const error = err as TokenFetchError
      span?.end(error.reason)
      this.#fetchesFailed++
      this.#onFetch?.('failed', error.reason)
      const failure: Failure = { detail: error.detail, reason: error.reason, retryAfterMs: error.retryAfterMs }
      // Store away: the backoff is ours alone, by the same rule.
      const backoffMs = await this.#store.fail(lease, failure).catch(() => failureBackoffMs(streak + 1, error.retryAfterMs))
      this.#log?.warn({ reason: error.detail, backoffMs }, 'token fetch failed')
      this.#remember(failure, backoffMs, error)
      throw error
    }
    span?.end()
    this.#fetchesOk++
    this.#onFetch?.('ok')
    const token: StoredToken = {
      id: randomBytes(9).toString('base64url'),
      accessToken: answer.accessToken,
      lifetimeMs: answer.lifetimeMs,
      ttlMs: answer.lifetimeMs - (this.#now() - sentAt)
    }
    // Shared for what is left of it; a write the store refuses or loses leaves the token ours alone.
    if (token.ttlMs > 0) await this.#store.put(lease, token).catch(() => {})
    const held = this.#adopt({ ...token, ttlMs: answer.lifetimeMs }, streak, sentAt)
    // Ours, new: until an answer other than 401 shows it works, a 401 means it was never good.
    this.#unconfirmed = held.authorization
    this.#log?.info({ expiresAt: this.#wall(held.expiresAt, this.#now()), lifetimeMs: answer.lifetimeMs }, 'token fetched')
    return held.authorization
  }

  /** `sentAt`: when the question that got it was asked; its ttl counts from there. */
  #adopt (token: StoredToken, streak: number, sentAt: number): Held {
    const expiresAt = sentAt + token.ttlMs
    // At most half the lifetime ahead, so a short-lived token is still used for a while.
    const refreshAt = expiresAt - Math.min(this.#refreshBeforeMs, token.lifetimeMs / 2)
    const held: Held = { authorization: `Bearer ${token.accessToken}`, id: token.id, expiresAt, refreshAt, streak }
    this.#held = held
    // A token read from the store was used elsewhere, or will be judged by its fetcher: a 401 to it is an ordinary one.
    this.#unconfirmed = undefined
    this.#failure = undefined
    this.#lastRefreshAt = this.#wallNow()
    this.#schedule(refreshAt)
    return held
  }

  #remember (failure: Failure, backoffMs: number, error?: TokenFetchError): Remembered {
    const until = this.#now() + backoffMs
    // A failure learned from the store is told as a fetch failure of our own, its backoff as the retry-after.
    const remembered: Remembered = { until, reason: failure.reason, error: error ?? fetchFailure(failure.detail, failure.reason === 'rejected' ? 'http' : failure.reason, backoffMs) }
    this.#failure = remembered
    this.#lastError = failure.detail
    // A background refresh failed: the token serves on, and the refresh is retried if that comes before expiry.
    const held = this.#held
    if (held !== undefined && until < held.expiresAt) this.#schedule(until)
    return remembered
  }

  #drop (): void {
    this.#held = undefined
    this.#unconfirmed = undefined
    clearTimeout(this.#timer)
    this.#timer = undefined
  }

  #event (event: TokenEvent): void {
    if (event.kind === 'invalidated' && this.#held?.id === event.id) {
      this.#drop()
      this.#log?.info({}, 'token invalidated by another source or replica')
    }
    for (const wake of [...this.#wake]) wake()
  }

  #schedule (at: number): void {
    if (this.#closed) return
    clearTimeout(this.#timer)
    // Past MAX_TIMER_MS the refresh merely comes early: harmless.
    const delayMs = Math.min(Math.max(0, at - this.#now()), MAX_TIMER_MS)
    this.#timer = setTimeout(() => {
      this.#timer = undefined
      this.#refresh()
    }, delayMs).unref()
  }

  /** On the hot path past refreshAt: a refresh, unless one is under way or a backoff runs. */
  #refreshDue (now: number): void {
    const failure = this.#failure
    if (failure !== undefined && now < failure.until) return
    this.#refresh()
  }

  #refresh (): void {
    // A fetch under way schedules the next refresh when it succeeds.
    if (this.#pending !== undefined || this.#closed) return
    this.#log?.debug?.({}, 'token refresh started')
    // Its failure has been recorded (and a retry scheduled) by #remember; there is no caller to tell.
    this.#fetch().catch(() => {})
  }

  /** Sleep `ms`, or less when the store has news. */
  #sleep (ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer)
        this.#wake.delete(done)
        resolve()
      }
      const timer = setTimeout(done, ms)
      this.#wake.add(done)
    })
  }

  /** A monotonic instant as epoch ms, by the wall clock as it reads now. */
  #wall (at: number, now: number): number {
    return Math.round(this.#wallNow() + (at - now))
  }
}

function errorOf (failure: Remembered, leftMs: number): Error {
  if (failure.reason !== 'rejected') return failure.error
  const retryAfterMs = Math.ceil(leftMs)
  // retryAfterMs becomes the answer's Retry-After (src/problem.ts).
  return Object.assign(new TokenRejected(retryAfterMs), { detail: REJECTED_DETAIL, reason: 'rejected', retryAfterMs })
}
