import { request, type Dispatcher } from 'undici'
import type { OAuth2ClientCredentialsAuth } from '../config/types.js'
import { TokenFetchFailed } from '../errors.js'
import { capRetryAfter, parseRetryAfter } from '../http/retry-after.js'
import { describeEgressError } from '../egress/errors.js'
import { createClientAuth } from './client-auth.js'

/** Lifetime of a token whose answer has no `expires_in` and which is no JWT with `exp`. */
export const DEFAULT_TOKEN_LIFETIME_MS = 5 * 60_000

/** Longest `retry-after` from a token endpoint we honour. */
export const MAX_TOKEN_RETRY_AFTER_MS = 5 * 60_000

/** A token answer is a few KB at most; anything larger is not one, and is not buffered. */
const MAX_ANSWER_BYTES = 64 * 1024

const CONTENT_TYPES = { form: 'application/x-www-form-urlencoded', json: 'application/json' } as const

/**
 * What may go into an Authorization header value: visible ASCII. RFC 6750's
 * b64token is narrower, but vendors do not all keep to it; a CR, LF or
 * control character would be header injection.
 */
const HEADER_SAFE = /^[\x21-\x7e]+$/

/** Values quoted from the server into `detail`: short words only, so nothing else it says can leak. */
const WORD = /^[\w.-]{1,64}$/

export interface TokenAnswer {
  readonly accessToken: string
  /** How long the token may be used, in ms, already clamped by `maxTokenTtlMs`. */
  readonly lifetimeMs: number
}

/** A coarse failure class, for metrics labels. */
export type TokenFailureReason = 'timeout' | 'network' | 'http' | 'answer' | 'assertion'

/**
 * TG_TOKEN_FETCH_FAILED (502) with the parts the cache needs. The message and
 * `detail` are built only from our own words, status codes and short RFC 6749
 * `error` codes; no `cause` is kept, since undici's errors may quote URLs.
 */
export type TokenFetchError = InstanceType<typeof TokenFetchFailed> & {
  /** Why, sanitised: safe for logs, /status and the problem `detail`. */
  readonly detail: string
  readonly reason: TokenFailureReason
  /** How long a 429 or 503 answer asked us to wait. */
  readonly retryAfterMs?: number
}

export interface TokenRequestDeps {
  readonly dispatcher?: Dispatcher
  /** The wall clock, epoch ms: for what is written in epoch time (a JWT `exp`, an HTTP-date `retry-after`, the assertion's `iat`). */
  readonly now: () => number
}

/**
 * One client-credentials token request, everything but the signed assertion
 * prepared here: fields, headers and, for secret-based methods, the whole
 * body. Rejects only with a TokenFetchError.
 *
 * - `scope` only when configured and non-empty: an empty `scope=` breaks
 *   servers that reject it (dapr/components-contrib#4221).
 * - `params` go first, so they can add fields but not replace `grant_type`
 *   or the client's credentials.
 * - Lifetime: `expires_in`, else the access token's JWT `exp` (read, not
 *   verified: it is not ours to verify), else 5 minutes; then `maxTokenTtlMs`.
 *
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-4.4.2 (request)
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-5.1 (answer)
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-5.2 (error answer)
 */
export function createTokenRequest (auth: OAuth2ClientCredentialsAuth, deps: TokenRequestDeps): () => Promise<TokenAnswer> {
  const { tokenUrl, timeoutMs, maxTokenTtlMs = Infinity } = auth
  const { now } = deps
  const clientAuth = createClientAuth(auth, now)
  const fields: Readonly<Record<string, string>> = {
    ...auth.params,
    grant_type: 'client_credentials',
    ...(auth.scope ? { scope: auth.scope } : {}),
    ...(auth.audience === undefined ? {} : { audience: auth.audience }),
    ...clientAuth.fields
  }
  const encode = auth.bodyEncoding === 'json'
    ? (f: Readonly<Record<string, string>>) => JSON.stringify(f)
    : (f: Readonly<Record<string, string>>) => new URLSearchParams(f).toString()
  const { perRequest } = clientAuth
  let body: () => string | Promise<string>
  if (perRequest === undefined) {
    const fixed = encode(fields)
    body = () => fixed
  } else {
    body = async () => encode({ ...fields, ...await perRequest() })
  }
  const options = {
    method: 'POST',
    headers: { accept: 'application/json', 'content-type': CONTENT_TYPES[auth.bodyEncoding], ...clientAuth.headers },
    ...(deps.dispatcher === undefined ? {} : { dispatcher: deps.dispatcher })
  } as const

  return async () => {
    let payload: string
    try {
      payload = await body()
    } catch {
      throw fetchFailure('could not sign the client assertion', 'assertion')
    }
    let status: number
    let retryAfter: string | string[] | undefined
    let text: string | undefined
    try {
      // One deadline for connecting, the headers and the body alike.
      const res = await request(tokenUrl, { ...options, body: payload, signal: AbortSignal.timeout(timeoutMs) })
      status = res.statusCode
      retryAfter = res.headers['retry-after']
      text = await readText(res.body)
    } catch (err) {
      throw networkFailure(err, timeoutMs)
    }
    // The status first: an oversized error page is reported by its status, not its size.
    if (status < 200 || status > 299) throw httpFailure(status, retryAfter, text ?? '', now())
    if (text === undefined) throw fetchFailure(`answer is larger than ${MAX_ANSWER_BYTES} bytes`, 'answer')
    return await readAnswer(text, now(), maxTokenTtlMs)
  }
}

async function readAnswer (text: string, nowMs: number, maxTokenTtlMs: number): Promise<TokenAnswer> {
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    throw fetchFailure('answer is not JSON', 'answer')
  }
  const { access_token: token, token_type: type, expires_in: expiresIn } = (parsed ?? {}) as Record<string, unknown>
  if (typeof token !== 'string' || token === '') throw fetchFailure('answer has no access_token', 'answer')
  if (!HEADER_SAFE.test(token)) throw fetchFailure('access_token has characters a header cannot carry', 'answer')
  // RFC 6749 §5.1: token_type is case-insensitive. Absent is read as bearer, which is what such servers issue.
  if (type !== undefined && (typeof type !== 'string' || type.toLowerCase() !== 'bearer')) {
    throw fetchFailure(`token_type ${typeof type === 'string' && WORD.test(type) ? `"${type}" ` : ''}is not bearer`, 'answer')
  }
  return { accessToken: token, lifetimeMs: Math.min(await lifetimeMs(token, expiresIn, nowMs), maxTokenTtlMs) }
}

async function lifetimeMs (token: string, expiresIn: unknown, nowMs: number): Promise<number> {
  // Some servers send expires_in as a string of digits.
  const seconds = typeof expiresIn === 'string' && /^\d+$/.test(expiresIn) ? Number(expiresIn) : expiresIn
  // A lifetime of zero or less would make every request fetch a token: read it as unknown.
  if (typeof seconds === 'number' && seconds > 0 && Number.isFinite(seconds)) return seconds * 1000
  const expMs = await jwtExpiry(token)
  if (expMs !== undefined && expMs > nowMs) return expMs - nowMs
  return DEFAULT_TOKEN_LIFETIME_MS
}

/**
 * The `exp` of a JWS-format access token, in epoch ms; undefined for opaque
 * tokens. jose is loaded here, on first need: most token endpoints send
 * expires_in, so a sidecar need not load jose at startup (0.6 MB of heap, measured).
 */
async function jwtExpiry (token: string): Promise<number | undefined> {
  const { decodeJwt } = await import('jose')
  try {
    const { exp } = decodeJwt(token)
    return typeof exp === 'number' ? exp * 1000 : undefined
  } catch {
    return undefined
  }
}

function httpFailure (status: number, retryAfter: string | string[] | undefined, text: string, nowMs: number): TokenFetchError {
  let detail = `HTTP ${status}`
  const code = errorCode(text)
  if (code !== undefined) detail += ` ${code}`
  // RFC 9110 §10.2.3: retry-after means something on a 429 or a 503.
  if ((status === 429 || status === 503) && retryAfter !== undefined) {
    const { ms } = capRetryAfter(parseRetryAfter(retryAfter, nowMs), MAX_TOKEN_RETRY_AFTER_MS)
    return fetchFailure(`${detail}, retry after ${Math.ceil(ms / 1000)} s`, 'http', ms)
  }
  return fetchFailure(detail, 'http')
}

/** The RFC 6749 §5.2 `error` code of an error answer. `error_description` is free text and is left out. */
function errorCode (text: string): string | undefined {
  try {
    const { error } = (JSON.parse(text) ?? {}) as Record<string, unknown>
    return typeof error === 'string' && WORD.test(error) ? error : undefined
  } catch {
    return undefined
  }
}

const NETWORK_ERRORS: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host lookup failed',
  UND_ERR_SOCKET: 'connection closed',
  UND_ERR_CONNECT_TIMEOUT: 'connect timed out'
}

/** undici and node:net errors → our words plus their code; their messages may quote the URL, so are dropped. */
function networkFailure (err: unknown, timeoutMs: number): TokenFetchError {
  if ((err as Error | undefined)?.name === 'TimeoutError') return fetchFailure(`timed out after ${timeoutMs} ms`, 'timeout')
  // TLS and proxy failures, worded the same as for the upstream itself.
  const egress = describeEgressError(err)
  if (egress !== undefined) return fetchFailure(egress, 'network')
  const code = (err as { code?: unknown } | undefined)?.code
  if (typeof code !== 'string' || !WORD.test(code)) return fetchFailure('request failed', 'network')
  return fetchFailure(`${NETWORK_ERRORS[code] ?? 'request failed'} (${code})`, 'network')
}

/** A TokenFetchError of our own words: the one shape every token failure takes, wherever it was learned. */
export function fetchFailure (detail: string, reason: TokenFailureReason, retryAfterMs?: number): TokenFetchError {
  return Object.assign(new TokenFetchFailed(detail), retryAfterMs === undefined ? { detail, reason } : { detail, reason, retryAfterMs })
}

/** The body as text, or undefined when it is larger than MAX_ANSWER_BYTES (then it is not read further). */
async function readText (body: AsyncIterable<Buffer>): Promise<string | undefined> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of body) {
    size += chunk.length
    // Leaving the loop destroys the stream, which frees the connection.
    if (size > MAX_ANSWER_BYTES) return undefined
    chunks.push(chunk)
  }
  return Buffer.concat(chunks).toString('utf8')
}
