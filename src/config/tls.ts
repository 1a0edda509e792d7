/**
 * TLS settings as the config gives them (`upstreams.*.tls`, `store.tls`):
 * every PEM parsed once, each problem a ConfigIssue naming its field.
 */
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto'
import type { ConfigIssue } from './issues.js'
import type { TlsConfig } from './types.js'
import { optional } from './values.js'

/** A tls block after the schema: `insecureSkipVerify` exists for upstreams only. */
export interface RawTls {
  readonly ca?: string | undefined
  readonly cert?: string | undefined
  readonly key?: string | undefined
  readonly minVersion?: 'TLSv1.2' | 'TLSv1.3' | undefined
  readonly insecureSkipVerify?: boolean | undefined
}

/**
 * Every PEM is parsed here, once, so a broken bundle is a config problem
 * naming its field rather than a TLS failure on the first request. The
 * messages never quote the value.
 */
export function resolveTls (raw: RawTls | undefined, path: string, issues: ConfigIssue[], secrets: Set<string>): TlsConfig | undefined {
  if (raw === undefined) return undefined
  if ((raw.cert === undefined) !== (raw.key === undefined)) issues.push({ path: `${path}.${raw.cert === undefined ? 'cert' : 'key'}`, message: 'cert and key go together (mTLS)' })
  if (raw.key !== undefined) secrets.add(raw.key)
  if (raw.ca !== undefined && parseCertificates(raw.ca) === undefined) issues.push({ path: `${path}.ca`, message: 'not a PEM certificate' })
  const cert = raw.cert === undefined ? undefined : parseCertificates(raw.cert)
  if (raw.cert !== undefined && cert === undefined) issues.push({ path: `${path}.cert`, message: 'not a PEM certificate' })
  const key = raw.key === undefined ? undefined : parsePrivateKey(raw.key, `${path}.key`, issues)
  // The leaf comes first in a client chain: it is the one the key must belong to.
  if (cert?.[0] !== undefined && key !== undefined && !cert[0].checkPrivateKey(key)) issues.push({ path: `${path}.key`, message: 'does not belong to tls.cert' })
  return {
    ...optional('ca', raw.ca),
    ...optional('cert', raw.cert),
    ...optional('key', raw.key),
    ...optional('minVersion', raw.minVersion),
    ...optional('insecureSkipVerify', raw.insecureSkipVerify === true ? true as const : undefined)
  }
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g

/** Every certificate of a PEM bundle, or undefined when there is none or one does not parse. */
function parseCertificates (pem: string): X509Certificate[] | undefined {
  const blocks = pem.match(PEM_CERTIFICATE)
  if (blocks === null) return undefined
  try {
    return blocks.map((block) => new X509Certificate(block))
  } catch {
    return undefined
  }
}

/** PKCS#8 `ENCRYPTED PRIVATE KEY`, or the legacy OpenSSL `Proc-Type: 4,ENCRYPTED` header (RFC 1421). */
const ENCRYPTED_PEM = /-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type:\s*4,ENCRYPTED/

function parsePrivateKey (pem: string, path: string, issues: ConfigIssue[]): KeyObject | undefined {
  const problem = privateKeyProblem(pem, 'tls.key', 'is an encrypted PEM key: give tollgate the key without a passphrase')
  if (problem === undefined) return createPrivateKey({ key: pem, format: 'pem' })
  issues.push({ path, message: problem.message === 'not a PEM private key (PKCS#8 or PKCS#1)' ? 'not a PEM private key' : problem.message })
  return undefined
}

const PUBLIC_PEM = /-----BEGIN (?:RSA |EC )?PUBLIC KEY-----/
const CERTIFICATE_PEM = /-----BEGIN CERTIFICATE-----/

/** Why `pem` is not a usable private key, or undefined when it parses. Never quotes the value. */
export function privateKeyProblem (pem: string, field: string, encrypted: string): { message: string } | undefined {
  // Node's error for a missing passphrase differs between OpenSSL versions; the PEM says it plainly.
  if (ENCRYPTED_PEM.test(pem)) return { message: encrypted }
  try {
    createPrivateKey({ key: pem, format: 'pem' })
    return undefined
  } catch {
    // Asked only once parsing failed: a file may hold the private key and its public half.
    if (PUBLIC_PEM.test(pem)) return { message: `is a public key; ${field} needs the private key` }
    if (CERTIFICATE_PEM.test(pem)) return { message: `is a certificate; ${field} needs the private key` }
    return { message: 'not a PEM private key (PKCS#8 or PKCS#1)' }
  }
}
