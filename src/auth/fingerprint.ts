import { createHash } from 'node:crypto'
import type { OAuth2ClientCredentialsAuth } from '../config/types.js'

/**
 * The token cache key: the upstream's name and a SHA-256 over everything
 * that decides which token the endpoint issues. A rotated secret or key, a
 * new scope or another token URL gives another key, so a token minted for
 * the old credentials is never reused (DuendeArchive/Support#1396; Dapr's
 * key leaves out the token URL). Only the digest is kept: the key may be
 * logged or, with a shared store, written elsewhere.
 */
export function credentialKey (upstream: string, auth: OAuth2ClientCredentialsAuth): string {
  return `${upstream}:${createHash('sha256').update(credentialMaterial(auth)).digest('base64url')}`
}

/**
 * The secret-bearing material the key is a digest of. Exported for the shared
 * store, which derives its token encryption key from it with HKDF (a
 * different function of the same secret, so the digest in a Redis key name
 * tells nothing about the encryption key).
 */
export function credentialMaterial (auth: OAuth2ClientCredentialsAuth): string {
  // JSON of an array is unambiguous: no separator a value could contain.
  return JSON.stringify([
    auth.tokenUrl,
    auth.clientId,
    auth.clientSecret ?? null,
    auth.privateKey ?? null,
    auth.clientAuth,
    auth.scope ?? null,
    auth.audience ?? null,
    // Sorted: the order params were written in does not change the token.
    Object.entries(auth.params).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
  ])
}
