/**
 * The access tokens the sandbox has issued, so that resource endpoints can
 * tell a valid token from a missing, unknown, expired or revoked one.
 *
 * Tokens are kept by their SHA-256 digest, not in clear: even a fake should
 * not hold bearer credentials in memory longer than it must. The map is
 * bounded; beyond `max` the oldest token is forgotten (and then reads as
 * unknown), so a client that never reuses its tokens cannot grow it.
 */
import { createHash } from 'node:crypto'

export interface TokenRecord {
  /** The sandbox vendor (preset name) that issued it: a token is valid there only. */
  readonly vendor: string
  readonly clientId: string
  readonly issuedAt: number
  readonly expiresAt: number
  revoked: boolean
}

export type TokenRejection = 'unknown' | 'expired' | 'revoked'

export type TokenCheck =
  | { readonly ok: true, readonly record: TokenRecord }
  | { readonly ok: false, readonly reason: TokenRejection }

export interface RevokeFilter {
  readonly vendor?: string
  readonly clientId?: string
}

export class TokenStore {
  readonly #tokens = new Map<string, TokenRecord>()
  readonly #now: () => number
  readonly #max: number

  constructor (options: { now: () => number, max: number }) {
    this.#now = options.now
    this.#max = options.max
  }

  add (token: string, record: Omit<TokenRecord, 'revoked'>): void {
    this.#tokens.set(digest(token), { ...record, revoked: false })
    // A Map iterates in insertion order: the first key is the oldest token.
    // One add overshoots by at most one, so this runs at most once.
    while (this.#tokens.size > this.#max) {
      const oldest = this.#tokens.keys().next()
      if (oldest.done === true) break
      this.#tokens.delete(oldest.value)
    }
  }

  check (token: string, vendor: string): TokenCheck {
    const record = this.#tokens.get(digest(token))
    if (record === undefined || record.vendor !== vendor) return { ok: false, reason: 'unknown' }
    if (record.revoked) return { ok: false, reason: 'revoked' }
    if (this.#now() >= record.expiresAt) return { ok: false, reason: 'expired' }
    return { ok: true, record }
  }

  /** Revokes every live token matching the filter (all when empty); returns how many. */
  revoke (filter: RevokeFilter = {}): number {
    const now = this.#now()
    let count = 0
    for (const record of this.#tokens.values()) {
      if (record.revoked || now >= record.expiresAt) continue
      if (filter.vendor !== undefined && record.vendor !== filter.vendor) continue
      if (filter.clientId !== undefined && record.clientId !== filter.clientId) continue
      record.revoked = true
      count++
    }
    return count
  }

  clear (): void {
    this.#tokens.clear()
  }

  get size (): number {
    return this.#tokens.size
  }
}

function digest (token: string): string {
  return createHash('sha256').update(token).digest('base64url')
}
