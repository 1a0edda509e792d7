/**
 * What crosses the proxy in each direction. reply-from has already removed
 * the app's `Connection` header and every header it names (so an app cannot
 * strip what tollgate adds); the rest of the hop-by-hop set is ours to drop.
 * @see RFC 9110 §7.6.1
 */
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http'

/**
 * Never forwarded upstream: hop-by-hop, the app's credentials, tollgate's own
 * inbound token, and `Expect` (Node already answered the app's 100-continue;
 * undici refuses to send it).
 */
const DROP_REQUEST = ['keep-alive', 'proxy-connection', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'authorization', 'x-tollgate-token', 'expect']
/** Never passed back to the app: hop-by-hop headers of the upstream connection. */
const DROP_RESPONSE = ['connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'te', 'trailer', 'transfer-encoding', 'upgrade']

export type RequestHeaderRewriter = (headers: IncomingHttpHeaders, requestId: string, authorization: string | undefined) => IncomingHttpHeaders

/** Built once per upstream: the configured headers as parallel arrays, so the hot path only loops. */
export function createRequestHeaderRewriter (configured: Readonly<Record<string, string>>): RequestHeaderRewriter {
  const names = Object.keys(configured)
  const values = names.map((name) => configured[name] as string)
  return function rewriteRequestHeaders (headers, requestId, authorization) {
    for (let i = 0; i < DROP_REQUEST.length; i++) delete headers[DROP_REQUEST[i] as string]
    for (let i = 0; i < names.length; i++) headers[names[i] as string] = values[i]
    headers['x-request-id'] = requestId
    if (authorization !== undefined) headers.authorization = authorization
    return headers
  }
}

export function stripResponseHopByHop<H extends IncomingHttpHeaders | OutgoingHttpHeaders> (headers: H): H {
  for (let i = 0; i < DROP_RESPONSE.length; i++) delete headers[DROP_RESPONSE[i] as string]
  return headers
}

const REQUEST_ID = /^[A-Za-z0-9._:@/+=-]{1,128}$/

/**
 * The app's `x-request-id` when it is a sane token, else undefined. Fastify's
 * `requestIdHeader` would take any value as is (its docs warn of it).
 */
export function validRequestId (value: string | string[] | undefined): string | undefined {
  return typeof value === 'string' && REQUEST_ID.test(value) ? value : undefined
}
