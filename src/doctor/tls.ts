/**
 * The `tls` step: a handshake with exactly the trust the sidecar uses (the
 * upstream's SecureContext from src/egress: `tls.ca` on top of Node's roots
 * and NODE_EXTRA_CA_CERTS, the client certificate, `minVersion`). The
 * handshake is let through whatever the certificate, so the step can say
 * what is wrong with it (untrusted CA, missing intermediate, host name,
 * dates) and with which certificate; nothing is sent over it.
 */
import type { Duplex } from 'node:stream'
import { isIP } from 'node:net'
import { connect, type DetailedPeerCertificate, type PeerCertificate } from 'node:tls'
import type { ConnectOptions } from '../egress/dispatcher.js'
import { describeEgressError } from '../egress/errors.js'
import { fail, ok, printable, warn, type StepOutcome } from './step.js'

export interface TlsCheck {
  /** The URL hostname (IPv6 in brackets) and port, for the host-name check, SNI and the line. */
  readonly host: string
  readonly port: number
  readonly connect: ConnectOptions
  /** For the hints: `upstreams.<name>.tls.ca`. */
  readonly upstream: string
  readonly caConfigured: boolean
  readonly timeoutMs: number
}

export async function checkTls (stream: Duplex, check: TlsCheck): Promise<StepOutcome> {
  const host = check.host.replace(/^\[(.*)\]$/, '$1')
  const where = `${check.host}:${check.port}`
  let handshake: Handshake
  try {
    handshake = await shake(stream, host, check)
  } catch (err) {
    return fail(`${where}: ${describeEgressError(err) ?? handshakeFailure(err)}`)
  }
  const { protocol, certificate, error } = handshake
  const problem = error === undefined ? undefined : certificateProblem(error, certificate, host, check)
  const summary = `${protocol}, certificate for ${host} valid until ${day(certificate.valid_to)} (issuer ${name(certificate.issuer)})`
  if (check.connect.rejectUnauthorized === false) {
    const off = `certificate verification is OFF (upstreams.${check.upstream}.tls.insecureSkipVerify)`
    return warn(`${where}: ${off}; ${problem === undefined ? `it would pass (${summary}): remove insecureSkipVerify` : `it would fail: ${problem}`}`)
  }
  return problem === undefined ? ok(`${where}: ${summary}`) : fail(`${where}: ${problem}`)
}

interface Handshake {
  readonly protocol: string
  readonly certificate: DetailedPeerCertificate
  /** The verification error's code (OpenSSL's X509_V_ERR name, or ERR_TLS_CERT_ALTNAME_INVALID); undefined when trusted. */
  readonly error: string | undefined
}

function shake (stream: Duplex, host: string, check: TlsCheck): Promise<Handshake> {
  return new Promise((resolve, reject) => {
    const socket = connect({
      socket: stream,
      host,
      // RFC 6066 §3: no IP addresses in SNI (and Node warns about one).
      ...(isIP(host) === 0 ? { servername: host } : {}),
      ...(check.connect.secureContext === undefined ? {} : { secureContext: check.connect.secureContext }),
      ALPNProtocols: ['http/1.1'],
      // Verified below, by hand: the step reports the problem instead of only failing on it.
      rejectUnauthorized: false
    })
    const timer = setTimeout(() => { socket.destroy(new Error(`no handshake within ${check.timeoutMs} ms`)) }, check.timeoutMs)
    socket.once('secureConnect', () => {
      clearTimeout(timer)
      const certificate = socket.getPeerCertificate(true)
      const error = socket.authorized ? undefined : String(socket.authorizationError)
      resolve({ protocol: socket.getProtocol() ?? 'TLS', certificate, error })
      socket.destroy()
    })
    socket.once('error', (err) => {
      clearTimeout(timer)
      socket.destroy()
      reject(err)
    })
  })
}

/** The verification failure in words, naming the certificate concerned and the key to set. */
function certificateProblem (code: string, leaf: DetailedPeerCertificate, host: string, check: TlsCheck): string {
  const caKey = `upstreams.${check.upstream}.tls.ca`
  const trust = check.caConfigured
    ? `${caKey} does not hold it (nor do Node's roots or NODE_EXTRA_CA_CERTS)`
    : `set ${caKey} to that CA's certificate (or NODE_EXTRA_CA_CERTS, for a TLS-inspecting corporate proxy)`
  const chain = chainOf(leaf)
  const top = chain[chain.length - 1] ?? leaf
  switch (code) {
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
    case 'UNABLE_TO_GET_ISSUER_CERT':
    case 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY': {
      // The server sent no CA certificate at all while its issuer is another CA: maybe only its intermediate is missing.
      const missing = chain.length === 1 && name(leaf.issuer) !== name(leaf.subject) ? ' (or the server leaves out its intermediate certificate)' : ''
      return `certificate is not signed by a trusted CA: issuer ${name(top.issuer)} is unknown here${missing}; ${trust} (${code})`
    }
    case 'SELF_SIGNED_CERT_IN_CHAIN':
      return `certificate chain ends in a CA that is not trusted: ${name(top.subject)}; ${trust} (${code})`
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
      return `certificate is self-signed (${name(leaf.subject)}) and not trusted; ${check.caConfigured ? `${caKey} does not hold it` : `trust it with ${caKey}`} (${code})`
    case 'CERT_HAS_EXPIRED': {
      const expired = chain.find((cert) => Date.parse(cert.valid_to) < Date.now()) ?? leaf
      return `certificate ${expired === leaf ? '' : `${name(expired.subject)} in the chain `}expired on ${day(expired.valid_to)} (${code})`
    }
    case 'CERT_NOT_YET_VALID': {
      const early = chain.find((cert) => Date.parse(cert.valid_from) > Date.now()) ?? leaf
      return `certificate is not valid before ${day(early.valid_from)}: this machine's clock, or a brand-new certificate? (${code})`
    }
    case 'ERR_TLS_CERT_ALTNAME_INVALID':
    case 'HOSTNAME_MISMATCH':
      return `hostname mismatch: the certificate is for ${printable(leaf.subjectaltname ?? `CN=${String(leaf.subject?.CN ?? '?')}`, 160)}, not ${host} (${code})`
    default:
      return describeEgressError({ code }) ?? `certificate not accepted (${printable(code, 64)})`
  }
}

/** The leaf and the certificates above it as the server sent them, up to the first self-signed one. */
function chainOf (leaf: DetailedPeerCertificate): DetailedPeerCertificate[] {
  const chain = [leaf]
  let current = leaf
  while (current.issuerCertificate !== undefined && current.issuerCertificate !== current && chain.length < 10) {
    current = current.issuerCertificate
    chain.push(current)
  }
  return chain
}

/** `"CN=tollgate test ca, O=Acme"`: CN and O, which say who a CA is. */
function name (subject: PeerCertificate['subject'] | undefined): string {
  if (subject === undefined) return '"?"'
  const parts = (['CN', 'O'] as const).flatMap((key) => {
    const value = subject[key] as string | string[] | undefined
    return value === undefined ? [] : [`${key}=${Array.isArray(value) ? value.join('+') : value}`]
  })
  return `"${printable(parts.join(', ') || '?', 100)}"`
}

/** `Mar  1 12:00:00 2027 GMT` → `2027-03-01`. */
function day (value: string): string {
  const ms = Date.parse(value)
  return Number.isNaN(ms) ? printable(value, 40) : new Date(ms).toISOString().slice(0, 10)
}

function handshakeFailure (err: unknown): string {
  const { code, message } = err as NodeJS.ErrnoException
  if (code !== undefined) return `handshake failed (${printable(code, 64)})`
  return message.startsWith('no handshake within') ? message : 'handshake failed (the connection closed?)'
}
