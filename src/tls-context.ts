/**
 * One TLS SecureContext from a config's `tls` block (`upstreams.*.tls`,
 * `store.tls`): extra trusted CAs, a client certificate, a minimum version.
 *
 * `ca` replaces Node's trust store (tls.createSecureContext docs), so the
 * context is given that store too and `ca` adds to it: Node's bundled roots
 * plus the file in NODE_EXTRA_CA_CERTS, which corporate networks use for
 * their TLS-inspecting proxy's CA and which an explicit `ca` would silently
 * drop. An unreadable file is skipped: Node has already warned about it at
 * startup.
 */
import { readFileSync } from 'node:fs'
import { createSecureContext, rootCertificates, type SecureContext } from 'node:tls'

export interface TlsSettings {
  readonly ca?: string
  readonly cert?: string
  readonly key?: string
  readonly minVersion?: 'TLSv1.2' | 'TLSv1.3'
}

export function createTlsContext (tls: TlsSettings, env: NodeJS.ProcessEnv): SecureContext {
  const { ca, cert, key, minVersion } = tls
  return createSecureContext({
    ...(ca === undefined ? {} : { ca: [...defaultTrust(env), ca] }),
    ...(cert === undefined || key === undefined ? {} : { cert, key }),
    ...(minVersion === undefined ? {} : { minVersion })
  })
}

function defaultTrust (env: NodeJS.ProcessEnv): readonly string[] {
  const file = env.NODE_EXTRA_CA_CERTS
  if (file === undefined || file === '') return rootCertificates
  try {
    return [...rootCertificates, readFileSync(file, 'utf8')]
  } catch {
    return rootCertificates
  }
}
