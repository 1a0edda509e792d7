/**
 * The TokenStore of replicas that share a Redis: one token, one fetch and one
 * failure memory for all of them. The token cache (src/auth/token-cache.ts)
 * owns the behaviour; this store answers its questions atomically, with the
 * scripts of token-scripts.ts:
 *
 * - claim: the stored token when it is not yet due for refresh (and is not
 *   the one the caller holds); else the lock (SET NX PX), which makes the
 *   caller the one that asks the token endpoint; else, while another replica
 *   holds the lock, the old token if it is still valid, or "wait".
 * - put: the lock holder's token, sealed (token-crypto.ts), fenced: an older
 *   token never replaces a newer one. fail: its failure, with the backoff of
 *   the row of failures it extends, counted across every replica.
 * - invalidate: compare and delete (a newer token stays), and every replica
 *   is told on the store's channel; a rejected token (401 on its first use)
 *   also extends the row of failures.
 *
 * The hot path never comes here: the cache holds a valid token itself.
 *
 * Key names say nothing a Redis reader can test guesses of a secret against
 * without a key: `<prefix>token:{<upstream>}:<gen>`, where `gen` is an
 * HMAC-SHA256 of the credential material under `store.encryptionKey`, or,
 * without one, under a random 256-bit deployment salt that the first replica
 * creates in Redis (`<prefix>salt`, SET NX). docs/scaling.md says what a
 * reader of that Redis can still do without `encryptionKey`.
 *
 * Redis away (or one command of a claim failing): with onUnavailable `local`
 * the call goes to this replica's own memory store, so the replica fetches
 * for itself; with `fail` it is refused with 503 TG_STORE_UNAVAILABLE (a
 * token the cache already holds keeps serving until it expires).
 */
import { createHmac, randomBytes } from 'node:crypto'
import { credentialKey, credentialMaterial } from '../auth/fingerprint.js'
import { createMemoryTokenStore } from '../auth/memory-token-store.js'
import type { TokenFailureReason, TokenFetchError } from '../auth/token-request.js'
import {
  BACKOFF_BASE_MS, BACKOFF_MAX_MS, fetchLockMs, STREAK_TTL_MS,
  type Claim, type ClaimRequest, type Failure, type FailureReason, type Lease, type StoredToken, type TokenEvent, type TokenStore
} from '../auth/token-store.js'
import type { OAuth2ClientCredentialsAuth } from '../config/types.js'
import { StoreUnavailable } from '../errors.js'
import type { RedisConnection, StoreLog, StoreMessage } from './redis-client.js'
import type { Script } from './scripts.js'
import { CLAIM_TOKEN, DEPLOYMENT_SALT, FAIL_TOKEN, INVALIDATE_TOKEN, PUT_TOKEN } from './token-scripts.js'
import { createTokenSealer, type TokenSealer } from './token-crypto.js'

/** Ids of tokens a 401 condemned, passed to later claims in case the invalidation never reached Redis. */
const REJECTED_KEPT = 8
const REASONS: ReadonlySet<string> = new Set(['timeout', 'network', 'http', 'answer', 'assertion', 'rejected'])

export interface RedisTokenStoreOptions {
  readonly upstream: string
  readonly auth: OAuth2ClientCredentialsAuth
  readonly connection: RedisConnection
  /** store.encryptionKey: seals tokens and keys the HMAC of the key names. */
  readonly encryptionKey?: string | undefined
  /** Monotonic ms, for the replica's own store while Redis is away. */
  readonly now: () => number
  readonly log?: StoreLog | undefined
}

/**
 * The longest a token can take with a shared store: waiting for another
 * replica's fetch (its lock), then a fetch of our own, plus Redis round
 * trips. The limiter holds an unanswered unit at least this long.
 */
export function tokenWaitBoundMs (auth: OAuth2ClientCredentialsAuth, commandTimeoutMs: number): number {
  return fetchLockMs(auth.timeoutMs) + 2 * auth.timeoutMs + 2 * commandTimeoutMs
}

export function createRedisTokenStore (options: RedisTokenStoreOptions): TokenStore {
  return new RedisTokenStore(options)
}

/** A lease of the replica's own store (taken while Redis was away) carries it along; a Redis one is the lock's owner id. */
interface RedisLease extends Lease {
  readonly local?: Lease
}

type Keys = readonly [value: string, lock: string, failure: string, streak: string]

const salts = new WeakMap<RedisConnection, Promise<string>>()

class RedisTokenStore implements TokenStore {
  readonly #conn: RedisConnection
  readonly #local: TokenStore
  readonly #sealer: TokenSealer
  readonly #upstream: string
  readonly #material: string
  readonly #encryptionKey: string | undefined
  readonly #log: StoreLog | undefined
  readonly #listeners = new Set<(event: TokenEvent) => void>()
  readonly #unsubscribe: Array<() => void>
  readonly #claimScript: Script
  readonly #putScript: Script
  readonly #failScript: Script
  readonly #invalidateScript: Script
  #keys: Keys | undefined
  #rejected: string[] = []
  #unreadableWarned = false

  constructor (options: RedisTokenStoreOptions) {
    const { auth, connection } = options
    this.#conn = connection
    this.#upstream = options.upstream
    this.#material = credentialMaterial(auth)
    this.#encryptionKey = options.encryptionKey
    this.#log = options.log
    this.#local = createMemoryTokenStore(options.now)
    this.#sealer = createTokenSealer(options.encryptionKey ?? this.#material, credentialKey(options.upstream, auth))
    this.#claimScript = connection.script('tollgateClaimToken', 4, CLAIM_TOKEN)
    this.#putScript = connection.script('tollgatePutToken', 4, PUT_TOKEN)
    this.#failScript = connection.script('tollgateFailToken', 4, FAIL_TOKEN)
    this.#invalidateScript = connection.script('tollgateInvalidateToken', 4, INVALIDATE_TOKEN)
    if (options.encryptionKey !== undefined) this.#keys = this.#keysUnder(options.encryptionKey)
    this.#unsubscribe = [
      this.#local.watch((event) => this.#emit(event)),
      connection.onMessage((message) => this.#message(message)),
      // Waiting claimers ask again at once: Redis came back, or their claims now go to the local store.
      connection.onReady(() => this.#emit({ kind: 'changed' })),
      connection.onLost(() => this.#emit({ kind: 'changed' }))
    ]
  }

  async claim (request: ClaimRequest): Promise<Claim> {
    for (let attempt = 0; attempt < 2; attempt++) {
      if (!this.#conn.available) return await this.#alone(request)
      const owner = randomBytes(9).toString('base64url')
      let keys: Keys
      let reply: [string, string?, number?, number?]
      try {
        keys = await this.#keysNow()
        reply = await this.#claimScript(keys, [owner, request.lockMs, request.refreshBeforeMs, request.heldId ?? '', this.#conn.channel, ...this.#rejected]) as typeof reply
      } catch {
        // This call alone, as onUnavailable says: a slow command is not a lost store.
        return await this.#alone(request)
      }
      const [kind, payload = '', pttl = 0, streak = 0] = reply
      switch (kind) {
        case 'token': {
          const opened = this.#sealer.open(keys[0], payload)
          if (opened === undefined) {
            await this.#discardUnreadable(payload)
            continue
          }
          const token: StoredToken = { id: opened.id, accessToken: opened.token, lifetimeMs: opened.lifetimeMs, ttlMs: pttl }
          return { kind: 'token', token, streak }
        }
        case 'failure':
          return { kind: 'failure', failure: readFailure(payload), backoffMs: pttl }
        case 'fetch':
          return { kind: 'fetch', lease: { owner }, streak }
        default:
          return { kind: 'wait', waitMs: pttl }
      }
    }
    // Twice a value that does not open: fetch for this replica alone.
    return await this.#local.claim(request)
  }

  async put (lease: RedisLease, token: StoredToken): Promise<void> {
    if (lease.local !== undefined) return await this.#local.put(lease.local, token)
    const keys = this.#keys
    if (keys === undefined || !this.#conn.available) return
    const sealed = this.#sealer.seal(keys[0], token.id, token.lifetimeMs, token.accessToken)
    const message: StoreMessage = { t: 'token', k: keys[0], id: token.id }
    await this.#putScript(keys, [sealed, Math.max(1, Math.floor(token.ttlMs)), lease.owner, this.#conn.channel, JSON.stringify(message)])
  }

  async fail (lease: RedisLease, failure: Failure): Promise<number> {
    if (lease.local !== undefined) return await this.#local.fail(lease.local, failure)
    const keys = this.#keys
    if (keys === undefined) throw new Error('no lease of this store')
    const message: StoreMessage = { t: 'token', k: keys[0], id: '' }
    return Number(await this.#failScript(keys, [
      JSON.stringify({ detail: failure.detail, reason: failure.reason }), failure.retryAfterMs ?? 0, lease.owner,
      BACKOFF_BASE_MS, BACKOFF_MAX_MS, STREAK_TTL_MS, this.#conn.channel, JSON.stringify(message)
    ]))
  }

  async invalidate (id: string, rejection?: Failure): Promise<number> {
    this.#condemn(id)
    // It may be a token fetched while Redis was away.
    const local = this.#local.invalidate(id)
    const keys = this.#keys
    if (keys === undefined || !this.#conn.available) {
      await local
      return rejection === undefined ? 0 : await this.#local.invalidate(id, rejection)
    }
    const json = rejection === undefined ? '' : JSON.stringify({ detail: rejection.detail, reason: rejection.reason })
    try {
      return Number(await this.#invalidateScript(keys, [id, this.#conn.channel, json, BACKOFF_BASE_MS, BACKOFF_MAX_MS, STREAK_TTL_MS]))
    } catch (err) {
      // Later claims delete it (the condemned list); the rejection's backoff is ours alone meanwhile.
      if (rejection === undefined) throw err
      return await this.#local.invalidate(id, rejection)
    }
  }

  confirm (id: string): void {
    this.#local.confirm(id)
    const keys = this.#keys
    if (keys === undefined || !this.#conn.available) return
    this.#conn.client.del(keys[3]).catch((err: unknown) => this.#conn.failed(err, 'confirm token'))
  }

  watch (listener: (event: TokenEvent) => void): () => void {
    this.#listeners.add(listener)
    return () => {
      this.#listeners.delete(listener)
      if (this.#listeners.size === 0) this.#close()
    }
  }

  /** Redis away, or this one call failed: the replica's own store, or 503 under `fail`. */
  async #alone (request: ClaimRequest): Promise<Claim> {
    if (this.#conn.onUnavailable === 'fail') throw storeUnavailable()
    const claim = await this.#local.claim(request)
    if (claim.kind !== 'fetch') return claim
    const lease: RedisLease = { owner: claim.lease.owner, local: claim.lease }
    return { ...claim, lease }
  }

  /** The key names; without an encryption key they wait for the deployment salt (one round trip, once per connection). */
  async #keysNow (): Promise<Keys> {
    if (this.#keys !== undefined) return this.#keys
    const salt = await deploymentSalt(this.#conn)
    this.#keys ??= this.#keysUnder(salt)
    return this.#keys
  }

  #keysUnder (secret: string): Keys {
    const gen = createHmac('sha256', secret).update(this.#material).digest('base64url').slice(0, 22)
    const base = `${this.#conn.keyPrefix}token:{${this.#upstream}}:${gen}`
    return [base, `${base}:lock`, `${base}:failure`, `${base}:streak`]
  }

  /** A stored value that does not open is corrupt or tampered with: delete it (if still there) and claim again. */
  async #discardUnreadable (value: string): Promise<void> {
    if (!this.#unreadableWarned) {
      this.#unreadableWarned = true
      this.#log?.warn({}, 'shared token does not decrypt: deleting it from the store')
    }
    const id = value.split('.', 1)[0] ?? ''
    if (id !== '') await this.invalidate(id).catch(() => {})
  }

  #condemn (id: string): void {
    if (this.#rejected.includes(id)) return
    this.#rejected.push(id)
    if (this.#rejected.length > REJECTED_KEPT) this.#rejected.shift()
  }

  #message (message: StoreMessage): void {
    if (this.#keys === undefined || message.k !== this.#keys[0] || message.t === 'pause') return
    if (message.t === 'invalidate') {
      this.#condemn(message.id)
      this.#emit({ kind: 'invalidated', id: message.id })
    } else {
      this.#emit({ kind: 'changed' })
    }
  }

  #emit (event: TokenEvent): void {
    for (const listener of [...this.#listeners]) listener(event)
  }

  #close (): void {
    for (const unsubscribe of this.#unsubscribe) unsubscribe()
  }
}

/** The deployment's salt, read (or created) once per connection; a failed read is retried by the next caller. */
async function deploymentSalt (connection: RedisConnection): Promise<string> {
  let salt = salts.get(connection)
  if (salt === undefined) {
    const script = connection.script('tollgateDeploymentSalt', 1, DEPLOYMENT_SALT)
    salt = script([`${connection.keyPrefix}salt`], [randomBytes(32).toString('base64url')]).then((value) => String(value))
    salts.set(connection, salt)
    salt.catch(() => salts.delete(connection))
  }
  return await salt
}

/** Another replica's failure, as FAIL_TOKEN or INVALIDATE_TOKEN stored it. */
function readFailure (payload: string): Failure {
  let detail = 'failed in another replica'
  let reason: FailureReason = 'http'
  try {
    const stored = JSON.parse(payload) as { detail?: unknown, reason?: unknown }
    if (typeof stored.detail === 'string' && stored.detail.length <= 200) detail = stored.detail
    if (typeof stored.reason === 'string' && REASONS.has(stored.reason)) reason = stored.reason as TokenFailureReason | 'rejected'
  } catch {}
  return { detail, reason }
}

/** 503 for the caller, with a second's Retry-After. */
function storeUnavailable (): TokenFetchError {
  const detail = 'the token is shared through Redis, which cannot be reached (store.onUnavailable: fail)'
  return Object.assign(new StoreUnavailable(detail), { detail, reason: 'network', retryAfterMs: 1000 }) as unknown as TokenFetchError
}
