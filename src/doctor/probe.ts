/**
 * The `probe` step: one authenticated GET of `upstreams.<name>.probe`
 * (a path and query under the target), through the upstream's own
 * dispatcher, with its configured headers and the token just fetched, as
 * the sidecar would send an app's request. The answer's body is read and
 * dropped, never printed.
 */
import { request, type Dispatcher } from 'undici'
import type { UpstreamConfig } from '../config/types.js'
import { describeEgressError } from '../egress/errors.js'
import { parseRetryAfter } from '../http/retry-after.js'
import { fail, ok, printable, type StepOutcome } from './step.js'

const WORD = /^[\w.-]{1,64}$/

/** Reads of the answer stop here; the rest is discarded unread. */
const MAX_READ_BYTES = 1024 * 1024

export async function probeStep (upstream: UpstreamConfig, probe: string, dispatcher: Dispatcher, authorization: string | undefined): Promise<StepOutcome> {
  const url = `${upstream.target}${probe}`
  const started = performance.now()
  let status: number
  let headers: Record<string, string | string[] | undefined>
  try {
    const res = await request(url, {
      method: 'GET',
      dispatcher,
      headers: { ...upstream.headers, ...(authorization === undefined ? {} : { authorization }) },
      signal: AbortSignal.timeout(upstream.timeoutMs)
    })
    status = res.statusCode
    headers = res.headers
    let read = 0
    for await (const chunk of res.body) {
      read += (chunk as Buffer).length
      if (read > MAX_READ_BYTES) break
    }
  } catch (err) {
    return fail(`GET ${url}: ${failure(err, upstream.timeoutMs)}`)
  }
  const ms = Math.round(performance.now() - started)
  const line = `GET ${url} → ${status} in ${ms} ms`
  if (status >= 200 && status < 300) return ok(line)
  return fail(`${line}: ${meaning(status, headers, upstream.name)}`)
}

function meaning (status: number, headers: Record<string, string | string[] | undefined>, name: string): string {
  switch (status) {
    case 401: {
      // RFC 6750 §3: the `error` attribute of WWW-Authenticate says why (invalid_token, insufficient_scope).
      const challenge = String(headers['www-authenticate'] ?? '')
      const error = /error="?([^",\s]+)/.exec(challenge)?.[1]
      return `the upstream refused the token${error !== undefined && WORD.test(error) ? ` (${error})` : ''}: audience or scope not for this API?`
    }
    case 403:
      return 'forbidden: the token is valid but may not do this (scope? the client\'s rights at the vendor?)'
    case 404:
      return `not found: check upstreams.${name}.target and .probe`
    case 429: {
      const after = headers['retry-after']
      const wait = after === undefined ? '' : ` (retry-after ${Math.ceil(parseRetryAfter(after, Date.now()) / 1000)} s)`
      return `rate limited${wait}`
    }
    default:
      return status >= 500 ? 'the upstream failed' : status >= 300 && status < 400 ? `a redirect${typeof headers.location === 'string' ? ` to ${printable(headers.location, 120)}` : ''}: check upstreams.${name}.target` : 'not a success'
  }
}

function failure (err: unknown, timeoutMs: number): string {
  if ((err as Error | undefined)?.name === 'TimeoutError' || (err as NodeJS.ErrnoException | undefined)?.code === 'UND_ERR_HEADERS_TIMEOUT') return `no answer within ${timeoutMs} ms (upstreams.*.timeout)`
  const egress = describeEgressError(err)
  if (egress !== undefined) return egress
  const code = (err as NodeJS.ErrnoException | undefined)?.code
  return typeof code === 'string' && WORD.test(code) ? `request failed (${code})` : 'request failed'
}
