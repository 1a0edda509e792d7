/**
 * What the sandbox tells a caller about the request it received, so a test
 * can check what reached the "vendor" (the User-Agent tollgate set, the
 * request id it forwarded) without a second server.
 *
 * An allow-list, never the whole header set: the `Authorization` header, and
 * so the access token, is never echoed.
 */
import type { FastifyReply, FastifyRequest } from 'fastify'

const ECHOED = ['user-agent', 'accept', 'content-type', 'x-request-id'] as const

/** Sets `x-sandbox-<name>` for each echoed request header that was present. */
export function echoHeaders (request: FastifyRequest, reply: FastifyReply): void {
  for (const name of ECHOED) {
    const value = request.headers[name]
    if (typeof value === 'string') reply.header(`x-sandbox-${name}`, value)
  }
}

export interface RequestEcho {
  readonly sandbox: string
  readonly method: string
  /** The path as the vendor sees it, below the sandbox vendor's prefix. */
  readonly path: string
  /** The raw query string, without `?`; '' when none. */
  readonly query: string
  readonly headers: Readonly<Partial<Record<typeof ECHOED[number], string>>>
  /** Length of the body received, in bytes. */
  readonly bodyBytes: number
}

/** A plain-JSON answer describing the request, for vendors without a modelled resource. */
export function describeRequest (request: FastifyRequest, vendor: string, prefix: string): RequestEcho {
  const [path = '', query = ''] = request.url.slice(prefix.length).split(/\?(.*)/s)
  const headers: Partial<Record<typeof ECHOED[number], string>> = {}
  for (const name of ECHOED) {
    const value = request.headers[name]
    if (typeof value === 'string') headers[name] = value
  }
  return {
    sandbox: vendor,
    method: request.method,
    path,
    query,
    headers,
    bodyBytes: Buffer.isBuffer(request.body) ? request.body.length : 0
  }
}
