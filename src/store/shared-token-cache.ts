/**
 * The credential source of an oauth2_client_credentials upstream when
 * replicas share a Redis: one token for all of them.
 *
 * It wraps the process's own token cache (src/auth/token-cache.ts), which
 * keeps doing what it does — the hot path (a plain string while the token is
 * valid), single flight within the process, refresh ahead, failure memory —
 * and swaps its "fetch a token" step for "get the shared one" (#obtain):
 *
 * 1. CLAIM_TOKEN (scripts.ts): the stored token when it is not yet due for
 *    refresh (and is not the one this replica holds: then it is refreshing);
 *    else the lock (SET NX PX), which makes this replica the one that asks
 *    the token endpoint; else, when another replica holds the lock, the old
 *    token while it is still valid, or "wait" (a refresh waits for the new
 *    one, while the cache keeps serving the old).
 * 2. The lock holder fetches with the dialect code of src/auth
 *    (createTokenRequest), seals the token (token-crypto.ts) and stores it
 *    for its remaining lifetime (STORE_TOKEN), then tells the others on the
 *    store's channel. A failure is stored instead (STORE_FAILURE), with a
 *    backoff shared by all replicas, so a broken endpoint is not asked once
 *    per replica.
 * 3. The others wait: they poll with backoff (10 ms doubling to 200 ms), woken
 *    at once by the channel, for at most lock time + one token timeout.
 *
 * A 401 anywhere: the replica that saw it drops its copy and runs
 * INVALIDATE_TOKEN (delete only if that very token is still the stored one;
 * publish either way); every replica drops its copy when the message
 * arrives, and the id is passed to later claims, which delete it if it is
 * still there, so a stale copy is never handed out again.
 *
 * Redis away: with onUnavailable `local` this replica asks the token endpoint
 * itself (its token stays its own); with `fail`, a request that needs a new
 * token gets 503 TG_STORE_UNAVAILABLE, while a token already held locally
 * keeps serving until it expires.
 *
 * Keys, all under one hash tag (one Cluster slot):
 *   <prefix>token:{<credentialKey>:<keyId>}:value    sealed token, PX = its remaining lifetime
 *   <prefix>token:{<credentialKey>:<keyId>}:lock     the fetching replica's random owner id, PX = token timeout + 2 s
 *   <prefix>token:{<credentialKey>:<keyId>}:failure  {detail, reason} of the last failed fetch, PX = backoff
 *   <prefix>token:{<credentialKey>:<keyId>}:streak   failures in a row, for that backoff
 * credentialKey is src/auth/fingerprint.ts's: a rotated secret is another
 * entry; keyId tells encryption keys apart (token-crypto.ts).
 */
import { randomBytes } from 'node:crypto'
import type { Dispatcher } from 'undici'
import { credentialKey, credentialMaterial } from '../auth/fingerprint.js'
import type { CredentialSource, CredentialStatus } from '../auth/source.js'
import { BACKOFF_BASE_MS, BACKOFF_MAX_MS, createTokenCache, type TokenCacheLog } from '../auth/token-cache.js'
import { createTokenRequest, type TokenAnswer, type TokenFailureReason, type TokenFetchError } from '../auth/token-request.js'
import type { OAuth2ClientCredentialsAuth } from '../config/types.js'
import { StoreUnavailable, TokenFetchFailed } from '../errors.js'
import { COMMAND_TIMEOUT_MS, type RedisConnection, type StoreMessage } from './redis-client.js'
import { CLAIM_TOKEN, defineScript, INVALIDATE_TOKEN, type Script, STORE_FAILURE, STORE_TOKEN } from './scripts.js'
import { createTokenSealer, type TokenSealer } from './token-crypto.js'

/** The lock outlives the holder's token request by this much: a holder that died frees it this long after its timeout. */
const LOCK_SLACK_MS = 2000
const POLL_MIN_MS = 10
const POLL_MAX_MS = 200
/** Ids of tokens a 401 condemned, remembered for later claims. */
const REJECTED_KEPT = 8
const REASONS: ReadonlySet<string> = new Set(['timeout', 'network', 'http', 'answer', 'assertion'])

export interface SharedTokenOptions {
  readonly upstream: string
  readonly auth: OAuth2ClientCredentialsAuth
  readonly connection: RedisConnection
  /** store.encryptionKey; by default the key is derived from the upstream's credentials. */
  readonly encryptionKey?: string | undefined
  readonly dispatcher?: Dispatcher | undefined
  readonly now?: () => number
  readonly log?: TokenCacheLog | undefined
  /** Metrics hook: once per real token request (not per read of the shared token). */
  readonly onFetch?: ((outcome: 'ok' | 'failed', reason?: string) => void) | undefined
}

/**
 * The longest authorization() can take with a shared token: waiting for
 * another replica's fetch (its lock), then a fetch of our own, plus Redis
 * round trips. The Redis limiter holds an unanswered unit at least this long.
 */
export function tokenWaitBoundMs (auth: OAuth2ClientCredentialsAuth): number {
  return lockMs(auth) + 2 * auth.timeoutMs + 2 * COMMAND_TIMEOUT_MS
}

export function createSharedTokenSource (options: SharedTokenOptions): CredentialSource {
  return new SharedTokenSource(options)
}

interface Held {
  readonly authorization: string
  /** Its id in Redis; undefined for a token fetched while Redis was away. */
  readonly id: string | undefined
}

interface Scripts {
  readonly claim: Script
  readonly storeToken: Script
  readonly storeFailure: Script
  readonly invalidate: Script
}

let instances = 0

class SharedTokenSource implements CredentialSource {
  readonly #conn: RedisConnection
  readonly #inner: CredentialSource
  readonly #request: () => Promise<TokenAnswer>
  readonly #sealer: TokenSealer
  readonly #scripts: Scripts
  readonly #keys: readonly [value: string, lock: string, failure: string, streak: string]
  readonly #refreshBeforeMs: number
  readonly #lockMs: number
  readonly #maxWaitMs: number
  readonly #now: () => number
  readonly #log: TokenCacheLog | undefined
  readonly #onFetch: SharedTokenOptions['onFetch']
  readonly #wake = new Set<() => void>()
  readonly #unsubscribe: () => void
  #held: Held | undefined
  #rejected: string[] = []
  #closed = false
  #unreadableWarned = false

  constructor (options: SharedTokenOptions) {
    const { auth, connection } = options
    this.#conn = connection
    this.#now = options.now ?? Date.now
    this.#log = options.log
    this.#onFetch = options.onFetch
    this.#refreshBeforeMs = auth.refreshBeforeMs
    this.#lockMs = lockMs(auth)
    this.#maxWaitMs = this.#lockMs + auth.timeoutMs
    const key = credentialKey(options.upstream, auth)
    this.#sealer = createTokenSealer(options.encryptionKey ?? credentialMaterial(auth), key)
    const base = `${connection.keyPrefix}token:{${key}:${this.#sealer.keyId}}`
    this.#keys = [`${base}:value`, `${base}:lock`, `${base}:failure`, `${base}:streak`]
    const now = this.#now
    this.#request = createTokenRequest(auth, options.dispatcher === undefined ? { now } : { now, dispatcher: options.dispatcher })
    const client = connection.client
    this.#scripts = {
      claim: defineScript(client, 'tollgateClaimToken', 3, CLAIM_TOKEN),
      storeToken: defineScript(client, 'tollgateStoreToken', 4, STORE_TOKEN),
      storeFailure: defineScript(client, 'tollgateStoreFailure', 4, STORE_FAILURE),
      invalidate: defineScript(client, 'tollgateInvalidateToken', 1, INVALIDATE_TOKEN)
    }
    this.#inner = createTokenCache({
      // Our own entry in the process-wide cache: two sidecars in one process
      // (tests) must meet only through Redis, never through that cache.
      key: `${key}#shared:${connection.replicaId}:${++instances}`,
      fetchToken: () => this.#obtain(),
      refreshBeforeMs: auth.refreshBeforeMs,
      now,
      log: options.log
    })
    this.#unsubscribe = connection.onMessage((message) => this.#message(message))
  }

  authorization (): string | undefined | Promise<string | undefined> {
    // fail: no new token without Redis; one already held serves on (it is no extra fetch).
    if (this.#conn.onUnavailable === 'fail' && !this.#conn.available && this.#inner.status().state !== 'valid') {
      return Promise.reject(storeUnavailable())
    }
    return this.#inner.authorization()
  }

  invalidate (value: string): void {
    this.#inner.invalidate(value)
    const held = this.#held
    if (held === undefined || held.authorization !== value) return
    this.#held = undefined
    if (held.id === undefined) return
    this.#reject(held.id)
    if (!this.#conn.available) return
    this.#scripts.invalidate([this.#keys[0]], [held.id, this.#conn.channel])
      .catch((err: unknown) => this.#conn.failed(err, 'invalidate token'))
  }

  status (): CredentialStatus {
    return this.#inner.status()
  }

  close (): void {
    this.#closed = true
    this.#unsubscribe()
    this.#inner.close()
    for (const wake of [...this.#wake]) wake()
  }

  /** The inner cache's fetch: the shared token, or the lock and a fetch, or a wait for the replica that has it. */
  async #obtain (): Promise<TokenAnswer> {
    if (!this.#conn.available) return await this.#alone()
    const startedAt = this.#now()
    let delay = POLL_MIN_MS
    for (;;) {
      if (this.#closed) throw failure('the sidecar is shutting down', 'network')
      const owner = randomBytes(9).toString('base64url')
      let reply: [string, string?, number?]
      try {
        // Holding a token and asking again is a refresh: only a newer token will do.
        const heldId = this.#held?.id ?? ''
        reply = await this.#scripts.claim(this.#keys.slice(0, 3), [owner, this.#lockMs, this.#refreshBeforeMs, heldId, this.#conn.channel, ...this.#rejected]) as typeof reply
      } catch (err) {
        this.#conn.failed(err, 'claim token')
        return await this.#alone()
      }
      const [kind, payload = '', pttl = 0] = reply
      if (kind === 'token') {
        const opened = this.#sealer.open(this.#keys[0], payload)
        if (opened === undefined) return await this.#unreadable()
        // Condemned by a 401 while this claim was on its way: claim again (CLAIM deletes it).
        if (this.#rejected.includes(opened.id)) continue
        this.#held = { authorization: `Bearer ${opened.token}`, id: opened.id }
        this.#log?.debug?.({ expiresInMs: pttl }, 'shared token read from the store')
        return { accessToken: opened.token, lifetimeMs: pttl > 0 ? pttl : opened.lifetimeMs }
      }
      if (kind === 'failure') throw sharedFailure(payload, pttl)
      if (kind === 'fetch') return await this.#fetchAndShare(owner)
      // Another replica is fetching.
      if (this.#now() - startedAt >= this.#maxWaitMs) {
        throw failure(`no token from the replica fetching it within ${this.#maxWaitMs} ms`, 'timeout')
      }
      await this.#sleep(delay * (0.5 + Math.random()))
      delay = Math.min(2 * delay, POLL_MAX_MS)
    }
  }

  /** We hold the lock: ask the token endpoint, and share the outcome. */
  async #fetchAndShare (owner: string): Promise<TokenAnswer> {
    const sentAt = this.#now()
    let answer: TokenAnswer
    try {
      answer = await this.#fetch()
    } catch (err) {
      const error = err as TokenFetchError
      await this.#scripts.storeFailure(this.#keys, [JSON.stringify({ detail: error.detail, reason: error.reason }), error.retryAfterMs ?? 0, owner, BACKOFF_BASE_MS, BACKOFF_MAX_MS])
        .then(() => this.#conn.publish({ t: 'token', k: this.#keys[0], id: '' }), (e: unknown) => this.#conn.failed(e, 'store token failure'))
      throw error
    }
    const id = randomBytes(9).toString('base64url')
    this.#held = { authorization: `Bearer ${answer.accessToken}`, id }
    // Stored for what is left of its lifetime, counted from when the request was sent (as the cache counts it).
    const ttlMs = Math.floor(answer.lifetimeMs - (this.#now() - sentAt))
    if (ttlMs > 0) {
      const sealed = this.#sealer.seal(this.#keys[0], id, answer.lifetimeMs, answer.accessToken)
      const message: StoreMessage = { t: 'token', k: this.#keys[0], id }
      await this.#scripts.storeToken(this.#keys, [sealed, ttlMs, owner, this.#conn.channel, JSON.stringify(message)])
        .catch((err: unknown) => this.#conn.failed(err, 'store token'))
    }
    return answer
  }

  /** Redis is away. */
  async #alone (): Promise<TokenAnswer> {
    if (this.#conn.onUnavailable === 'fail') throw storeUnavailable()
    const answer = await this.#fetch()
    this.#held = { authorization: `Bearer ${answer.accessToken}`, id: undefined }
    return answer
  }

  /** The stored value does not open: corrupt or tampered with (another key would be another entry). Fetch our own, keep it to ourselves. */
  async #unreadable (): Promise<TokenAnswer> {
    if (!this.#unreadableWarned) {
      this.#unreadableWarned = true
      this.#log?.warn({}, 'shared token does not decrypt: fetching a token for this replica alone')
    }
    const answer = await this.#fetch()
    this.#held = { authorization: `Bearer ${answer.accessToken}`, id: undefined }
    return answer
  }

  /** One real token request, counted for metrics. */
  async #fetch (): Promise<TokenAnswer> {
    try {
      const answer = await this.#request()
      this.#onFetch?.('ok')
      return answer
    } catch (err) {
      this.#onFetch?.('failed', (err as TokenFetchError).reason)
      throw err
    }
  }

  #message (message: StoreMessage): void {
    if (message.k !== this.#keys[0] || message.t === 'pause') return
    if (message.t === 'invalidate' && typeof message.id === 'string') {
      this.#reject(message.id)
      const held = this.#held
      if (held !== undefined && held.id === message.id) {
        this.#held = undefined
        this.#inner.invalidate(held.authorization)
        this.#log?.info({}, 'token invalidated by another replica')
      }
    }
    for (const wake of [...this.#wake]) wake()
  }

  #reject (id: string): void {
    if (this.#rejected.includes(id)) return
    this.#rejected.push(id)
    if (this.#rejected.length > REJECTED_KEPT) this.#rejected.shift()
  }

  /** Sleep `ms`, or less when the channel has news for this token. */
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
}

function lockMs (auth: OAuth2ClientCredentialsAuth): number {
  return auth.timeoutMs + LOCK_SLACK_MS
}

/** A TokenFetchError of our own words (token-request.ts builds the same shape). */
function failure (detail: string, reason: TokenFailureReason, retryAfterMs?: number): TokenFetchError {
  return Object.assign(new TokenFetchFailed(detail), retryAfterMs === undefined ? { detail, reason } : { detail, reason, retryAfterMs }) as TokenFetchError
}

/** Another replica's failure, as stored by STORE_FAILURE; its backoff (pttl) becomes ours. */
function sharedFailure (payload: string, pttl: number): TokenFetchError {
  let detail = 'failed in another replica'
  let reason: TokenFailureReason = 'http'
  try {
    const stored = JSON.parse(payload) as { detail?: unknown, reason?: unknown }
    if (typeof stored.detail === 'string' && stored.detail.length <= 200) detail = stored.detail
    if (typeof stored.reason === 'string' && REASONS.has(stored.reason)) reason = stored.reason as TokenFailureReason
  } catch {}
  return failure(detail, reason, pttl > 0 ? pttl : undefined)
}

/** 503 for the caller; shaped as a TokenFetchError so the cache's failure memory can hold it (for a second). */
function storeUnavailable (): TokenFetchError {
  const detail = 'the token is shared through Redis, which cannot be reached (store.onUnavailable: fail)'
  return Object.assign(new StoreUnavailable(detail), { detail, reason: 'network', retryAfterMs: 1000 }) as unknown as TokenFetchError
}
