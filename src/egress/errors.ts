/**
 * Foreign errors from reply-from / undici → ours, with the original kept as
 * `cause` for the log. One switch, at the boundary (style guide §4.4).
 */
import type { FastifyError } from 'fastify'
import { UpstreamBadResponse, UpstreamTimeout, UpstreamUnreachable } from '../errors.js'

const UNREACHABLE = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_DESTROYED'])
const TIMEOUT = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'FST_REPLY_FROM_GATEWAY_TIMEOUT', 'FST_REPLY_FROM_TIMEOUT', 'FST_REPLY_FROM_HTTP_REQUEST_TIMEOUT'])

export function translateUpstreamError (error: FastifyError, timeoutMs: number): FastifyError {
  const cause = (error.cause ?? error) as NodeJS.ErrnoException
  const code = cause.code ?? error.code
  // Our own error surfaced through the request stream (a chunked body over bodyLimit): it already says what happened.
  if (typeof cause.code === 'string' && cause.code.startsWith('TG_')) return cause as unknown as FastifyError
  if (TIMEOUT.has(code) || TIMEOUT.has(error.code)) return new UpstreamTimeout(timeoutMs, { cause: error })
  if (code === 'UND_ERR_CONNECT_TIMEOUT') return new UpstreamUnreachable('connect timed out', { cause: error })
  const egress = describeEgressError(cause)
  if (egress !== undefined) return new UpstreamUnreachable(egress, { cause: error })
  if (UNREACHABLE.has(code)) return new UpstreamUnreachable(code, { cause: error })
  if (typeof code === 'string' && (code.startsWith('HPE_') || code === 'UND_ERR_INFO' || code === 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH')) {
    return new UpstreamBadResponse(code, { cause: error })
  }
  // undici's parser error carries no code: the answer was not HTTP/1.1 at all.
  if (cause.name === 'HTTPParserError') return new UpstreamBadResponse('not an HTTP/1.1 response', { cause: error })
  if (error.code === 'FST_REPLY_FROM_BAD_GATEWAY') return new UpstreamBadResponse('invalid status code', { cause: error })
  return new UpstreamUnreachable(typeof code === 'string' ? code : 'request failed', { cause: error })
}

/**
 * TLS verification failures, by the code Node gives them (OpenSSL's
 * X509_V_ERR names, and ERR_TLS_CERT_ALTNAME_INVALID for the host name).
 * @see https://nodejs.org/api/tls.html#x509-certificate-error-codes
 */
const CERTIFICATE_ERRORS: Readonly<Record<string, string>> = {
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'certificate is not signed by a trusted CA (tls.ca?)',
  UNABLE_TO_GET_ISSUER_CERT: 'certificate is not signed by a trusted CA (tls.ca?)',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'certificate is not signed by a trusted CA (tls.ca?)',
  SELF_SIGNED_CERT_IN_CHAIN: 'certificate chain ends in an untrusted CA (tls.ca?)',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'certificate is self-signed and not trusted (tls.ca?)',
  CERT_HAS_EXPIRED: 'certificate has expired',
  CERT_NOT_YET_VALID: 'certificate is not yet valid',
  CERT_SIGNATURE_FAILURE: 'certificate signature is invalid',
  CERT_REVOKED: 'certificate is revoked',
  CERT_UNTRUSTED: 'certificate is not trusted',
  CERT_REJECTED: 'certificate is rejected',
  INVALID_CA: 'certificate chain holds an invalid CA',
  INVALID_PURPOSE: 'certificate is not for TLS servers',
  HOSTNAME_MISMATCH: 'certificate does not name the host',
  ERR_TLS_CERT_ALTNAME_INVALID: 'certificate does not name the host'
}

/** Handshake failures (OpenSSL alerts and errors, as ERR_SSL_*) that have a likely cause worth naming. */
const HANDSHAKE_ERRORS: Readonly<Record<string, string>> = {
  ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION: 'no TLS version in common (tls.minVersion?)',
  ERR_SSL_UNSUPPORTED_PROTOCOL: 'no TLS version in common (tls.minVersion?)',
  ERR_SSL_NO_PROTOCOLS_AVAILABLE: 'no TLS version in common (tls.minVersion?)',
  ERR_SSL_WRONG_VERSION_NUMBER: 'the server does not speak TLS (http:// target?)',
  ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED: 'the server requires a client certificate (tls.cert, tls.key)',
  ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE: 'the server refused the handshake (client certificate required? tls.cert, tls.key)',
  ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE: 'the server refused the client certificate',
  ERR_SSL_TLSV1_ALERT_UNKNOWN_CA: 'the server does not trust the client certificate',
  ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED: 'the server says the client certificate has expired',
  // OpenSSL 3.5 (Node 22.20+, 24.9+, 26) names the SSLv3-era alerts SSL/TLS.
  'ERR_SSL_SSL/TLS_ALERT_HANDSHAKE_FAILURE': 'the server refused the handshake (client certificate required? tls.cert, tls.key)',
  'ERR_SSL_SSL/TLS_ALERT_BAD_CERTIFICATE': 'the server refused the client certificate',
  'ERR_SSL_SSL/TLS_ALERT_CERTIFICATE_EXPIRED': 'the server says the client certificate has expired'
}

/** undici's proxy errors carry the proxy's status only in their message (RequestAbortedError, InvalidArgumentError). */
const PROXY_STATUS = /^Proxy response \((\d{3})\) !== 200 when HTTP Tunneling$|^Proxy Authentication Required \((407)\)$/

/**
 * A TLS or proxy failure on the way to an upstream or token endpoint, in
 * words plus the code, e.g. `TLS: certificate has expired (CERT_HAS_EXPIRED)`;
 * undefined for anything else. Built from codes and status numbers only,
 * never the error's text (it may quote a URL).
 */
export function describeEgressError (err: unknown): string | undefined {
  const { code, message, cause } = (err ?? {}) as { code?: unknown, message?: unknown, cause?: unknown }
  // SecureProxyConnectionError (UND_ERR_PRX_TLS) wraps the TLS error of the tunnelled connection.
  if (code === 'UND_ERR_PRX_TLS' && cause !== undefined) return describeEgressError(cause)
  if (typeof code !== 'string' || !/^[A-Z0-9_/]{1,64}$/.test(code)) return undefined
  const certificate = CERTIFICATE_ERRORS[code]
  if (certificate !== undefined) return `TLS: ${certificate} (${code})`
  const handshake = HANDSHAKE_ERRORS[code]
  if (handshake !== undefined) return `TLS: ${handshake} (${code})`
  if (code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_')) return `TLS handshake failed (${code})`
  const proxy = typeof message === 'string' ? PROXY_STATUS.exec(message) : null
  if (proxy !== null) {
    const status = proxy[1] ?? proxy[2]
    return status === '407' ? 'the proxy wants credentials, or refused them (HTTP 407)' : `the proxy refused the connection (HTTP ${status ?? '?'})`
  }
  return undefined
}
