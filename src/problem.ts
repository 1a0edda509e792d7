/**
 * Every answer tollgate itself gives is application/problem+json (RFC 9457),
 * rendered here and nowhere else.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { BadRequest, UpstreamNotFound } from './errors.js'
import { ClientGone } from './proxy/exchange.js'

export const PROBLEM_TYPE = 'application/problem+json; charset=utf-8'

/** The status an exchange ends with when the app hung up first (nginx's "client closed request"); nothing reaches the app. */
export const CLIENT_CLOSED_REQUEST = 499

export interface Problem {
  readonly type: string
  readonly title: string
  readonly status: number
  readonly detail: string
  readonly upstream?: string
  readonly code: string
  readonly requestId: string
}

/** An error that asks the client to come back later carries this (ms). */
interface RetryAfterHint { retryAfterMs?: number }

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  408: 'Request Timeout',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout'
}

/** Counts each problem answer (ops/metrics.ts); the request's span learns its code (generation.ts). */
export type ProblemCounter = (upstream: string | undefined, code: string, request?: FastifyRequest) => void

export function installProblemHandlers (app: FastifyInstance, count: ProblemCounter = () => {}): void {
  app.setErrorHandler(function problemHandler (err: FastifyError & RetryAfterHint, request, reply) {
    const upstream = upstreamOf(request)
    if (err instanceof ClientGone) {
      // Nobody is left to answer, and nothing failed: no problem, no warning.
      request.log.debug({ upstream }, 'client went away')
      return reply.code(CLIENT_CLOSED_REQUEST).send()
    }
    const known = typeof err.code === 'string' && err.code.startsWith('TG_')
    // Fastify's own 4xx (bad JSON, bad URL) are safe to show; anything else unknown is a bug.
    const status = known || (err.statusCode !== undefined && err.statusCode < 500) ? (err.statusCode ?? 500) : 500
    const code = known ? err.code : status < 500 ? 'TG_BAD_REQUEST' : 'TG_INTERNAL'
    const detail = known || status < 500 ? err.message : 'an internal error occurred; the log has the details'
    if (code === 'TG_INTERNAL') {
      // A bug of tollgate's own: its stack, at every level.
      request.log.error({ err, code, status, upstream }, 'sidecar error')
    } else if (status >= 500) {
      // Expected (a wrong secret, a refused connection, a timeout): what and why in one line, no stack.
      request.log.warn({ code, status, upstream, detail }, 'sidecar error')
    }
    if (err.retryAfterMs !== undefined) reply.header('retry-after', String(Math.max(1, Math.ceil(err.retryAfterMs / 1000))))
    count(upstream, code, request)
    return sendProblem(request, reply, status, code, detail)
  })

  app.setNotFoundHandler(function notFound (request) {
    throw new UpstreamNotFound(pathOf(request.url))
  })
}

export function sendProblem (request: FastifyRequest, reply: FastifyReply, status: number, code: string, detail: string): FastifyReply {
  const upstream = upstreamOf(request)
  const problem: Problem = {
    type: `urn:tollgate:problem:${code}`,
    title: TITLES[status] ?? 'Error',
    status,
    detail,
    ...(upstream === undefined ? {} : { upstream }),
    code,
    requestId: request.id
  }
  return reply.code(status).type(PROBLEM_TYPE).send(problem)
}

/**
 * Requests Node's parser refused before Fastify saw them (bad syntax,
 * headers too large, too slow): answered as problems too, unless a response
 * is already on the wire for that connection, where writing would corrupt it.
 */
export function clientErrorHandler (err: NodeJS.ErrnoException, socket: import('node:net').Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return
  const inFlight = (socket as { _httpMessage?: { headersSent?: boolean } })._httpMessage
  if (inFlight?.headersSent === true || !socket.writable) {
    socket.destroy()
    return
  }
  const [status, detail] = err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
    ? [408, 'the request did not arrive in time (server.headersTimeout / server.bodyTimeout)']
    : err.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'the request headers are larger than allowed']
      : [400, 'the request is not valid HTTP/1.1']
  const code = status === 400 ? 'TG_BAD_REQUEST' : status === 408 ? 'TG_REQUEST_TIMEOUT' : 'TG_HEADERS_TOO_LARGE'
  const body = JSON.stringify({ type: `urn:tollgate:problem:${code}`, title: TITLES[status], status, detail, code })
  socket.end(`HTTP/1.1 ${status} ${TITLES[status] ?? 'Error'}\r\ncontent-type: ${PROBLEM_TYPE}\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`)
}

/** Fastify's own routing failures (a URL it cannot decode), as problems too. */
export function frameworkErrors (err: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  sendProblem(request, reply, 400, 'TG_BAD_REQUEST', new BadRequest(err.message).message)
}

/** The matched upstream's name: from the proxy context, or from the route when the request was refused before it. */
export function upstreamOf (request: FastifyRequest): string | undefined {
  return request.tollgate?.upstream ?? (request.routeOptions.config as { upstream?: string } | undefined)?.upstream
}

function pathOf (url: string): string {
  const query = url.indexOf('?')
  const path = query === -1 ? url : url.slice(0, query)
  return path.length > 200 ? `${path.slice(0, 200)}...` : path
}
