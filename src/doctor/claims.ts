/**
 * What an access token says about itself, for the token step: the claims
 * of a JWS-format token (read, not verified: it is not ours to verify) that
 * tell whether it is the right token (issuer, subject, audience, expiry,
 * scope), never the token or its signature. Opaque tokens say nothing.
 *
 * @see https://www.rfc-editor.org/rfc/rfc9068#section-2.2 (JWT access token claims)
 */
import { printable } from './step.js'

export interface TokenClaims {
  /** `JWT (RS256) iss "…", sub "…", aud "…", exp 2026-…Z, scope "…"`, or what kind of token it is. */
  readonly text: string
  /** The `aud` claim as a list; undefined when the token is not a readable JWT or has none. */
  readonly audience: readonly string[] | undefined
  /** `exp`, epoch ms. */
  readonly expiresAt: number | undefined
}

export async function readClaims (token: string): Promise<TokenClaims> {
  const parts = token.split('.')
  if (parts.length === 5) return { text: 'an encrypted JWT (JWE): claims not readable', audience: undefined, expiresAt: undefined }
  if (parts.length !== 3) return { text: 'an opaque token (no JWT claims)', audience: undefined, expiresAt: undefined }
  const { decodeJwt, decodeProtectedHeader } = await import('jose')
  let claims: Record<string, unknown>
  let alg: unknown
  try {
    claims = decodeJwt(token)
    alg = decodeProtectedHeader(token).alg
  } catch {
    return { text: 'an opaque token (not a readable JWT)', audience: undefined, expiresAt: undefined }
  }
  const audience = typeof claims.aud === 'string' ? [claims.aud] : Array.isArray(claims.aud) ? claims.aud.filter((a): a is string => typeof a === 'string') : undefined
  const expiresAt = typeof claims.exp === 'number' ? claims.exp * 1000 : undefined
  const shown: string[] = []
  for (const key of ['iss', 'sub', 'client_id', 'aud'] as const) {
    const value = key === 'aud' ? audience?.join(' ') : claims[key]
    if (typeof value === 'string') shown.push(`${key} "${printable(value, 80)}"`)
  }
  if (expiresAt !== undefined) shown.push(`exp ${instant(expiresAt)}`)
  // RFC 9068 §2.2.3 `scope` (a string); some servers send `scp`, a list.
  const scope = typeof claims.scope === 'string' ? claims.scope : Array.isArray(claims.scp) ? claims.scp.join(' ') : typeof claims.scp === 'string' ? claims.scp : undefined
  if (scope !== undefined) shown.push(`scope "${printable(scope, 80)}"`)
  const header = typeof alg === 'string' ? `JWT (${printable(alg, 16)})` : 'JWT'
  return { text: shown.length === 0 ? `${header} without iss, sub, aud or exp` : `${header} ${shown.join(', ')}`, audience, expiresAt }
}

function instant (ms: number): string {
  return Number.isFinite(ms) && Math.abs(ms) < 8.64e15 ? new Date(ms).toISOString().replace(/\.000Z$/, 'Z') : 'unreadable'
}
