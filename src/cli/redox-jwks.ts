/**
 * `tollgate sandbox --redox-jwks FILE`: the public keys the sandbox's Redox
 * verifies client assertions with. Checked here so that a bad file is one
 * sentence that says what to do, not the sandbox's TypeError and its stack.
 */
import { readFileSync } from 'node:fs'
import type { JSONWebKeySet } from 'jose'

export interface RedoxClient {
  readonly clientId: string
  readonly publicKey: JSONWebKeySet
}

/** Members that only a private JWK has (RFC 7518 §6.2.2, §6.3.2, §6.4.1). */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k']

/** The Redox client for the sandbox, or the one-line reason the file cannot serve (without "--redox-jwks FILE: "). */
export function readRedoxJwks (file: string, clientId: string): RedoxClient | { problem: string } {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (err) {
    return { problem: `cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})` }
  }
  let jwks: unknown
  try {
    // `keygen` prints the private key first, then the JWKS: take the JSON part.
    const start = text.indexOf('{')
    jwks = JSON.parse(start === -1 ? text : text.slice(start))
  } catch {
    return { problem: 'not JSON; give the JWKS that `tollgate keygen` prints (or its --out DIR/<kid>.jwks.json)' }
  }
  const keys = (jwks as { keys?: unknown } | null)?.keys
  if (!Array.isArray(keys) || keys.length === 0) return { problem: 'not a JWKS (no "keys" list); give the JWKS that `tollgate keygen` prints' }
  for (const [i, key] of keys.entries()) {
    if (typeof key !== 'object' || key === null) return { problem: `key ${i} is not a JWK` }
    const jwk = key as Record<string, unknown>
    if (jwk.kty !== 'RSA' && jwk.kty !== 'EC') return { problem: `key ${i} is not an RSA or EC key` }
    if (PRIVATE_MEMBERS.some((member) => member in jwk)) return { problem: `key ${i} holds private key material; give the public JWKS only` }
    if (typeof jwk.kid !== 'string' || jwk.kid === '') {
      return { problem: `key ${i} has no kid, and Redox picks the key by kid; make a key pair with one: tollgate keygen --kid ID` }
    }
  }
  return { clientId, publicKey: { keys } as JSONWebKeySet }
}
