import { createPrivateKey, randomUUID, type KeyObject } from 'node:crypto'
import type { SigningAlg } from '../config/types.js'

/**
 * Seconds an assertion stays valid. It only has to outlive one token request
 * (10 s timeout by default); short keeps a leaked assertion useless, and
 * Envoy's private_key_jwt uses the same 60 s. The contract's ceiling is 5 min.
 */
export const ASSERTION_LIFETIME_S = 60

export interface AssertionOptions {
  readonly clientId: string
  /** The `aud` claim: the token endpoint URL unless the vendor says otherwise. */
  readonly audience: string
  /** PEM, PKCS#8 (`BEGIN PRIVATE KEY`) or PKCS#1 (`BEGIN RSA PRIVATE KEY`). */
  readonly privateKey: string
  readonly keyId?: string
  readonly alg: SigningAlg
  readonly now: () => number
}

/**
 * A signer of private_key_jwt client assertions. The key is parsed once
 * here: node:crypto reads PKCS#1 as well as PKCS#8 (jose's importPKCS8 takes
 * only PKCS#8), and jose converts the KeyObject once and caches the result.
 * Every call signs a new assertion with its own `jti`, as servers may
 * refuse one they have seen (oidc-provider does).
 *
 * @throws TypeError when the key cannot be read or does not fit `alg`.
 * @see https://www.rfc-editor.org/rfc/rfc7523#section-3 (JWT client authentication claims)
 * @see https://openid.net/specs/openid-connect-core-1_0.html#ClientAuthentication (private_key_jwt)
 */
export function createAssertionSigner (options: AssertionOptions): () => Promise<string> {
  const { clientId, audience, alg, keyId, now } = options
  const key = importSigningKey(options.privateKey, alg)
  const header = keyId === undefined ? { alg, typ: 'JWT' } : { alg, kid: keyId, typ: 'JWT' }
  return async () => {
    // Loaded on first use: only private_key_jwt upstreams need jose at all.
    const { SignJWT } = await import('jose')
    const iat = Math.floor(now() / 1000)
    return await new SignJWT()
      .setProtectedHeader(header)
      .setIssuer(clientId)
      .setSubject(clientId)
      .setAudience(audience)
      .setJti(randomUUID())
      .setIssuedAt(iat)
      .setExpirationTime(iat + ASSERTION_LIFETIME_S)
      .sign(key)
  }
}

/** The curve each ECDSA algorithm signs with (RFC 7518 §3.4), as node:crypto names it. */
const CURVES: Partial<Record<SigningAlg, string>> = { ES256: 'prime256v1', ES384: 'secp384r1' }

/**
 * The private key as a KeyObject, checked against `alg`. Also run by the
 * config validator, so a key that cannot sign is a config error at startup.
 * @throws TypeError naming the problem, never quoting the key.
 */
export function importSigningKey (pem: string, alg: SigningAlg): KeyObject {
  let key: KeyObject
  try {
    key = createPrivateKey(pem)
  } catch {
    // The parser's message is dropped on purpose: it may quote the input.
    throw new TypeError('"privateKey" is not a PEM private key (PKCS#8 or PKCS#1)')
  }
  const curve = CURVES[alg]
  const details = key.asymmetricKeyDetails
  const fits = curve === undefined
    // RFC 7518 §3.3 and §3.5: RSA keys of 2048 bits or more (jose refuses smaller ones when signing).
    ? (key.asymmetricKeyType === 'rsa' || (alg.startsWith('PS') && key.asymmetricKeyType === 'rsa-pss')) && (details?.modulusLength ?? 0) >= 2048
    : key.asymmetricKeyType === 'ec' && details?.namedCurve === curve
  if (!fits) throw new TypeError(`"privateKey" does not fit signing algorithm ${alg}`)
  return key
}
