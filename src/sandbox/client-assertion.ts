/**
 * private_key_jwt client authentication as Redox does it (RFC 7523 §2.2,
 * §3; Redox's page; peers-and-pitfalls §8): the form carries
 * `client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer`
 * and `client_assertion`, a JWT whose header has `alg` RS384 or ES384, a
 * `kid` and `typ: JWT`, and whose claims are `iss` = `sub` = the client id,
 * `aud` = the token URL, a `jti` and an `exp` at most five minutes ahead.
 * Redox "reads iss as client_id then kid to pick the key" and "validates the
 * signature in the request using your public key".
 *
 * Every failure is `invalid_client` (RFC 7521 §4.2.1), with a description
 * precise enough to fix the client; never the assertion itself.
 */
import { createLocalJWKSet, decodeJwt, decodeProtectedHeader, errors, jwtVerify, type JSONWebKeySet } from 'jose'
import { invalidClient, invalidRequest } from './oauth-error.js'
import type { ReplayCache } from './replay-cache.js'
import { fail, type Read, type TokenParams } from './token-request.js'

export const JWT_BEARER_ASSERTION = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'

/** Redox's asymmetric algorithms (peers-and-pitfalls §8; HS384 is for shared secrets, which the sandbox does not model). */
export const ASSERTION_ALGORITHMS = ['RS384', 'ES384'] as const

/** "exp = now + 5 min" (peers-and-pitfalls §8; SMART Backend Services caps it there too). */
export const MAX_ASSERTION_LIFETIME_S = 300

/** Leeway on that cap only, for clients that round `exp` up to the next second. */
const LIFETIME_LEEWAY_S = 1

export interface AssertionVerifier {
  /** The authenticated client id, or the refusal. */
  verify (params: TokenParams, audience: string, now: number): Promise<Read<string>>
}

/** `clients` maps each client id to its public keys (each with a `kid`). */
export function createAssertionVerifier (clients: ReadonlyMap<string, JSONWebKeySet>, replays: ReplayCache): AssertionVerifier {
  const keySets = new Map([...clients].map(([clientId, jwks]) => [clientId, createLocalJWKSet(jwks)]))

  return {
    async verify (params, audience, now) {
      if (params.has('client_secret')) return fail(invalidClient('this token endpoint authenticates clients with a signed client_assertion, not a client secret'))
      const type = params.get('client_assertion_type')
      const assertion = params.get('client_assertion')
      if (type === undefined && assertion === undefined) return fail(invalidClient(`client_assertion_type (${JWT_BEARER_ASSERTION}) and client_assertion are required`))
      if (type === undefined) return fail(invalidRequest('client_assertion_type is required'))
      if (type !== JWT_BEARER_ASSERTION) return fail(invalidClient(`client_assertion_type must be ${JWT_BEARER_ASSERTION}`))
      if (assertion === undefined) return fail(invalidRequest('client_assertion is required'))

      let header: ReturnType<typeof decodeProtectedHeader>
      let clientId: unknown
      try {
        header = decodeProtectedHeader(assertion)
        clientId = decodeJwt(assertion).iss
      } catch {
        return fail(invalidClient('client_assertion is not a signed JWT'))
      }
      if (!(ASSERTION_ALGORITHMS as readonly unknown[]).includes(header.alg)) return fail(invalidClient(`client_assertion alg must be ${ASSERTION_ALGORITHMS.join(' or ')}`))
      if (typeof header.kid !== 'string' || header.kid === '') return fail(invalidClient('client_assertion has no kid in its header'))
      if (header.typ?.toUpperCase() !== 'JWT') return fail(invalidClient('client_assertion header typ must be JWT'))
      const keys = typeof clientId === 'string' ? keySets.get(clientId) : undefined
      if (typeof clientId !== 'string' || keys === undefined) return fail(invalidClient('client_assertion iss is not a known client id'))

      let exp: number
      let jti: unknown
      try {
        const { payload } = await jwtVerify(assertion, keys, {
          algorithms: [...ASSERTION_ALGORITHMS],
          issuer: clientId,
          subject: clientId,
          audience,
          requiredClaims: ['iss', 'sub', 'aud', 'exp', 'jti'],
          currentDate: new Date(now)
        })
        exp = payload.exp ?? 0
        jti = payload.jti
      } catch (err) {
        return fail(invalidClient(describe(err, header.kid, audience)))
      }
      if (exp - now / 1000 > MAX_ASSERTION_LIFETIME_S + LIFETIME_LEEWAY_S) return fail(invalidClient(`client_assertion exp is more than ${MAX_ASSERTION_LIFETIME_S} s ahead`))
      if (typeof jti !== 'string' || jti === '') return fail(invalidClient('client_assertion jti must be a non-empty string'))
      if (replays.replayed(`${clientId}\u0000${jti}`, exp * 1000, now)) return fail(invalidClient('client_assertion jti was already used'))
      return { ok: true, value: clientId }
    }
  }
}

/** What went wrong, from jose's error classes; never the token or the key. */
function describe (err: unknown, kid: string, audience: string): string {
  if (err instanceof errors.JWKSNoMatchingKey) return `no registered key for this client has kid ${JSON.stringify(kid)} and the assertion's alg`
  if (err instanceof errors.JWSSignatureVerificationFailed) return 'client_assertion signature does not verify with the registered public key'
  if (err instanceof errors.JWTExpired) return 'client_assertion has expired'
  if (err instanceof errors.JWTClaimValidationFailed) {
    return err.claim === 'aud'
      ? `client_assertion aud must be the token URL, ${audience}`
      : `client_assertion ${err.claim} claim is invalid (${err.reason})`
  }
  if (err instanceof errors.JOSEAlgNotAllowed) return `client_assertion alg must be ${ASSERTION_ALGORITHMS.join(' or ')}`
  return 'client_assertion could not be verified'
}
