/**
 * What crosses the proxy in each direction. reply-from has already removed
 * the app's `Connection` header and every header it names (so an app cannot
 * strip what tollgate adds); the rest of the hop-by-hop set is ours to drop.
 * @see RFC 9110 §7.6.1
 */
import type { IncomingHttpHeaders } from 'node:http'

/**
 * Never forwarded upstream: hop-by-hop, the app's credentials, tollgate's own
 * inbound token, and `Expect` (Node already answered the app's 100-continue;
 * undici refuses to send it).
 */
const DROP_REQUEST = new Set(['keep-alive', 'proxy-connection', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'authorization', 'x-tollgate-token', 'expect'])
/** Never passed back to the app: hop-by-hop headers of the upstream connection. */
const DROP_RESPONSE = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'te', 'trailer', 'transfer-encoding', 'upgrade'])

export type RequestHeaderRewriter = (headers: IncomingHttpHeaders, requestId: string, authorization: string | undefined) => IncomingHttpHeaders

/*
 * Both directions copy the headers they keep into a new object rather than
 * `delete` the others: a delete turns the object into a slow dictionary that
 * every later reader walks (reply-from, http-proxy's sanitiser, undici), which
 * measured 10 µs per request more in the profile (docs/benchmarks.md).
 */

/** Built once per upstream: the configured headers as parallel arrays, so the hot path only loops. */
export function createRequestHeaderRewriter (configured: Readonly<Record<string, string>>): RequestHeaderRewriter {
  const names = Object.keys(configured)
  const values = names.map((name) => configured[name] as string)
  return function rewriteRequestHeaders (headers, requestId, authorization) {
    const kept: IncomingHttpHeaders = {}
    for (const name in headers) {
      if (!DROP_REQUEST.has(name)) kept[name] = headers[name]
    }
    for (let i = 0; i < names.length; i++) kept[names[i] as string] = values[i]
    kept['x-request-id'] = requestId
    if (authorization !== undefined) kept.authorization = authorization
    return kept
  }
}

/**
 * The upstream's headers without its hop-by-hop ones, including any its
 * `Connection` header names (RFC 9110 §7.6.1).
 */
export function withoutResponseHopByHop (headers: IncomingHttpHeaders): IncomingHttpHeaders {
  const named = connectionOptions(headers.connection)
  const kept: IncomingHttpHeaders = {}
  for (const name in headers) {
    if (!DROP_RESPONSE.has(name) && (named === undefined || !named.includes(name))) kept[name] = headers[name]
  }
  return kept
}

/** The header names a Connection header lists, beyond the usual keep-alive/close; undefined when none. */
function connectionOptions (value: string | string[] | undefined): string[] | undefined {
  if (value === undefined || value === 'keep-alive' || value === 'close') return undefined
  const names = (Array.isArray(value) ? value.join(',') : value).toLowerCase().split(',').map((name) => name.trim()).filter((name) => name !== '' && name !== 'keep-alive' && name !== 'close')
  return names.length === 0 ? undefined : names
}

const REQUEST_ID = /^[A-Za-z0-9._:@/+=-]{1,128}$/

/**
 * The app's `x-request-id` when it is a sane token, else undefined. Fastify's
 * `requestIdHeader` would take any value as is (its docs warn of it).
 */
export function validRequestId (value: string | string[] | undefined): string | undefined {
  return typeof value === 'string' && REQUEST_ID.test(value) ? value : undefined
}
