import { calculateJwkThumbprint, exportJWK, exportPKCS8, generateKeyPair, type JWK } from 'jose'
import type { SigningAlg } from '../config/types.js'

export interface KeyMaterial {
  /** PKCS#8 PEM: the `privateKey` of a private_key_jwt upstream. */
  readonly privateKeyPem: string
  /** The public half, to register with the vendor (Redox: paste it or serve it as a JWKS URL). */
  readonly jwks: { readonly keys: readonly JWK[] }
}

export interface KeyOptions {
  /** The `kid` of the key; defaults to its RFC 7638 thumbprint. */
  readonly kid?: string
  readonly alg?: SigningAlg
}

/**
 * A new signing key pair for private_key_jwt, as `tollgate keygen` prints
 * it: RSA 2048 (jose's default) for RS and PS algorithms, P-256 or P-384
 * for ES256 and ES384.
 *
 * @see https://www.rfc-editor.org/rfc/rfc7517#section-5 (JWK Set)
 * @see https://www.rfc-editor.org/rfc/rfc7638 (thumbprint used as default kid)
 */
export async function generateKeyMaterial (options: KeyOptions = {}): Promise<KeyMaterial> {
  const alg = options.alg ?? 'RS384'
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true })
  const jwk = await exportJWK(publicKey)
  const kid = options.kid ?? await calculateJwkThumbprint(jwk)
  return {
    privateKeyPem: await exportPKCS8(privateKey),
    jwks: { keys: [{ ...jwk, kid, alg, use: 'sig' }] }
  }
}
