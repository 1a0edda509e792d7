/**
 * Token state in this process. `sharedMemoryTokenStore(key)` is the one
 * entry of all sources with the same credentials: a source rebuilt with
 * them (a config switch, a rotation back) finds the live token, and two such
 * sources make one fetch between them, as replicas on Redis do. A rotated
 * secret is another key, and misses.
 */
import { LRUCache } from 'lru-cache'
import { failureBackoffMs, STREAK_TTL_MS, type Claim, type ClaimRequest, type Failure, type Lease, type StoredToken, type TokenEvent, type TokenStore } from './token-store.js'

interface Entry {
  readonly id: string
  readonly accessToken: string
  readonly lifetimeMs: number
  readonly expiresAt: number
}

/**
 * Bounded, so a process that keeps building sources for new credentials
 * cannot grow without end; no LRU ttl, because each entry judges expiry by
 * its own clock.
 */
const shared = new LRUCache<string, MemoryTokenStore>({ max: 1000 })

/**
 * The process-wide store for credentialKey `key`. Sources that share an
 * entry share its clock: `now` is taken from the first, and in production
 * every source reads performance.now.
 */
export function sharedMemoryTokenStore (key: string, now: () => number): TokenStore {
  let store = shared.get(key)
  if (store === undefined) {
    store = new MemoryTokenStore(now)
    shared.set(key, store)
  }
  return store
}

/** A store of its own (a Redis store's state while Redis is away). `now` is monotonic, in ms. */
export function createMemoryTokenStore (now: () => number): TokenStore {
  return new MemoryTokenStore(now)
}

let owners = 0

class MemoryTokenStore implements TokenStore {
  readonly #now: () => number
  readonly #listeners = new Set<(event: TokenEvent) => void>()
  #token: Entry | undefined
  #lock: { readonly owner: string, readonly until: number } | undefined
  #failure: { readonly failure: Failure, readonly until: number } | undefined
  #streak: { readonly count: number, readonly until: number } | undefined

  constructor (now: () => number) {
    this.#now = now
  }

  read (): StoredToken | undefined {
    const now = this.#now()
    const token = this.#live(now)
    return token === undefined ? undefined : view(token, now)
  }

  async claim (request: ClaimRequest): Promise<Claim> {
    const now = this.#now()
    const token = this.#live(now)
    // offer: a token other than the one the caller holds.
    const offer = token !== undefined && token.id !== request.heldId ? token : undefined
    if (offer !== undefined && offer.expiresAt - now > Math.min(request.refreshBeforeMs, offer.lifetimeMs / 2)) return this.#offered(offer, now)
    const failure = this.#failure
    if (failure !== undefined && now < failure.until) {
      return offer === undefined ? { kind: 'failure', failure: failure.failure, backoffMs: failure.until - now } : this.#offered(offer, now)
    }
    const lock = this.#lock
    if (lock === undefined || now >= lock.until) {
      const lease: Lease = { owner: `memory-${++owners}` }
      this.#lock = { owner: lease.owner, until: now + request.lockMs }
      return { kind: 'fetch', lease, streak: this.#streakAt(now) }
    }
    return offer === undefined ? { kind: 'wait', waitMs: lock.until - now } : this.#offered(offer, now)
  }

  async put (lease: Lease, token: StoredToken): Promise<void> {
    const now = this.#now()
    if (!this.#holds(lease, now)) {
      if (this.#lock !== undefined && now < this.#lock.until) return
      const current = this.#live(now)
      if (current !== undefined && current.expiresAt - now >= token.ttlMs) return
    }
    this.#token = { id: token.id, accessToken: token.accessToken, lifetimeMs: token.lifetimeMs, expiresAt: now + token.ttlMs }
    this.#failure = undefined
    this.#release(lease)
    this.#emit({ kind: 'changed' })
  }

  async fail (lease: Lease, failure: Failure): Promise<number> {
    const backoffMs = this.#record(failure)
    this.#release(lease)
    this.#emit({ kind: 'changed' })
    return backoffMs
  }

  async invalidate (id: string, rejection?: Failure): Promise<number> {
    if (this.#token?.id === id) this.#token = undefined
    const backoffMs = rejection === undefined ? 0 : this.#record(rejection)
    this.#emit({ kind: 'invalidated', id })
    return backoffMs
  }

  confirm (): void {
    this.#streak = undefined
  }

  watch (listener: (event: TokenEvent) => void): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  forget (): void {
    this.#token = undefined
  }

  #offered (token: Entry, now: number): Claim {
    return { kind: 'token', token: view(token, now), streak: this.#streakAt(now) }
  }

  #live (now: number): Entry | undefined {
    const token = this.#token
    return token !== undefined && now < token.expiresAt ? token : undefined
  }

  #streakAt (now: number): number {
    const streak = this.#streak
    return streak !== undefined && now < streak.until ? streak.count : 0
  }

  /** One more failure in the row; its backoff. */
  #record (failure: Failure): number {
    const now = this.#now()
    const count = this.#streakAt(now) + 1
    this.#streak = { count, until: now + STREAK_TTL_MS }
    const backoffMs = failureBackoffMs(count, failure.retryAfterMs)
    this.#failure = { failure, until: now + backoffMs }
    return backoffMs
  }

  #holds (lease: Lease, now: number): boolean {
    return this.#lock !== undefined && this.#lock.owner === lease.owner && now < this.#lock.until
  }

  #release (lease: Lease): void {
    if (this.#lock?.owner === lease.owner) this.#lock = undefined
  }

  #emit (event: TokenEvent): void {
    for (const listener of [...this.#listeners]) listener(event)
  }
}

function view (token: Entry, now: number): StoredToken {
  return { id: token.id, accessToken: token.accessToken, lifetimeMs: token.lifetimeMs, ttlMs: token.expiresAt - now }
}
