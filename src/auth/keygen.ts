import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { calculateJwkThumbprint, exportJWK, exportPKCS8, generateKeyPair, type JWK } from 'jose'
import type { SigningAlg } from '../config/types.js'

/** The algorithms keygen makes keys for: those `auth.signingAlg` accepts. */
export const KEYGEN_ALGS = ['RS256', 'RS384', 'RS512', 'PS256', 'ES256', 'ES384'] as const satisfies readonly SigningAlg[]

export function isKeygenAlg (value: string): value is typeof KEYGEN_ALGS[number] {
  return (KEYGEN_ALGS as readonly string[]).includes(value)
}

export interface KeyMaterial {
  /** PKCS#8 PEM: the `privateKey` of a private_key_jwt upstream. */
  readonly privateKeyPem: string
  /** The public half, to register with the vendor (Redox: paste it or serve it as a JWKS URL). */
  readonly jwks: { readonly keys: readonly JWK[] }
  /** The key's `kid`, as given or its thumbprint. */
  readonly kid: string
}

export interface KeyOptions {
  /** The `kid` of the key; defaults to its RFC 7638 thumbprint. Not empty: a vendor picks the key by it. */
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
  // Checked here too, so that a caller gets this sentence rather than jose's JOSENotSupported.
  if (!isKeygenAlg(alg)) throw new TypeError(`"alg" must be one of ${KEYGEN_ALGS.join(', ')}, not ${String(alg)}`)
  if (options.kid === '') throw new TypeError('"kid" must not be empty')
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true })
  const jwk = await exportJWK(publicKey)
  const kid = options.kid ?? await calculateJwkThumbprint(jwk)
  return {
    privateKeyPem: await exportPKCS8(privateKey),
    jwks: { keys: [{ ...jwk, kid, alg, use: 'sig' }] },
    kid
  }
}

/** A kid that can name the files of `keygen --out`: no path separators, no dot names. */
export function isFileSafeKid (kid: string): boolean {
  return /^[A-Za-z0-9._-]{1,128}$/.test(kid) && kid !== '.' && kid !== '..'
}

/** `keygen --out` found a file of the pair already there: keys are never overwritten. */
export class KeyFileExists extends Error {
  readonly path: string
  constructor (path: string) {
    super(`${path} already exists`)
    this.name = 'KeyFileExists'
    this.path = path
  }
}

export interface KeyFiles {
  readonly privateKeyFile: string
  readonly jwksFile: string
}

/**
 * `keygen --out DIR`: DIR/<kid>.pem (mode 0600) and DIR/<kid>.jwks.json.
 * DIR is created (0700) when missing. Neither file is ever overwritten:
 * when either exists nothing is written (KeyFileExists), and a pair is
 * written whole or not at all.
 */
export function writeKeyFiles (dir: string, material: KeyMaterial): KeyFiles {
  if (!isFileSafeKid(material.kid)) throw new TypeError(`"kid" ${JSON.stringify(material.kid)} cannot name a file`)
  const privateKeyFile = join(dir, `${material.kid}.pem`)
  const jwksFile = join(dir, `${material.kid}.jwks.json`)
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  for (const file of [privateKeyFile, jwksFile]) if (existsSync(file)) throw new KeyFileExists(file)
  // 'wx': fail rather than replace a file that appeared since the check.
  writeFileSync(privateKeyFile, `${material.privateKeyPem.trimEnd()}\n`, { flag: 'wx', mode: 0o600 })
  try {
    writeFileSync(jwksFile, `${JSON.stringify(material.jwks, null, 2)}\n`, { flag: 'wx', mode: 0o644 })
  } catch (err) {
    rmSync(privateKeyFile, { force: true })
    throw (err as NodeJS.ErrnoException).code === 'EEXIST' ? new KeyFileExists(jwksFile) : err
  }
  return { privateKeyFile, jwksFile }
}
