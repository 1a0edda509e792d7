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
  if (UNREACHABLE.has(code)) return new UpstreamUnreachable(code, { cause: error })
  if (typeof code === 'string' && (code.startsWith('HPE_') || code === 'UND_ERR_INFO' || code === 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH')) {
    return new UpstreamBadResponse(code, { cause: error })
  }
  if (error.code === 'FST_REPLY_FROM_BAD_GATEWAY') return new UpstreamBadResponse('invalid status code', { cause: error })
  return new UpstreamUnreachable(typeof code === 'string' ? code : 'request failed', { cause: error })
}
