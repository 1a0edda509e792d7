import { request, type Dispatcher } from 'undici'
import type { OAuth2ClientCredentialsAuth } from '../config/types.js'
import { TokenFetchFailed } from '../errors.js'
import { capRetryAfter, parseRetryAfter } from '../http/retry-after.js'
import { describeEgressError } from '../egress/errors.js'
import { loggableUrl } from '../logger.js'
import type { TokenFetchSpan } from '../telemetry/tracing.js'
import { createClientAuth, secretForms } from './client-auth.js'

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

/** An RFC 6749 `error` code quoted into `detail`: a short word. */
const WORD = /^[\w.-]{1,64}$/

/** The longest `error_description` quoted into `detail`, in characters. */
export const MAX_DESCRIPTION_CHARS = 200

/** What stands in `detail` for anything secret the server's words held. */
export const REDACTED_WORDS = '<redacted>'

export interface TokenAnswer {
  readonly accessToken: string
  /** How long the token may be used, in ms, already clamped by `maxTokenTtlMs`. */
  readonly lifetimeMs: number
}

/** A coarse failure class, for metrics labels. */
export type TokenFailureReason = 'timeout' | 'network' | 'http' | 'answer' | 'assertion'

/**
 * TG_TOKEN_FETCH_FAILED (502) with the parts the cache needs. The message and
 * `detail` are built only from our own words, status codes, short RFC 6749
 * `error` codes and the server's `error_description` made safe by
 * vendorWords; no `cause` is kept, since undici's errors may quote URLs.
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
  /** Headers every token request carries besides its own: the upstream's User-Agent (see tokenRequestHeaders). */
  readonly headers?: Readonly<Record<string, string>>
  /** `debug`: each token request described without its secret. */
  readonly log?: { debug? (obj: object, msg: string): void } | undefined
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
 * - An error answer's `error_description` is quoted in `detail`, cleaned
 *   and with every form of our credentials in it redacted (vendorWords).
 *
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-4.4.2 (request)
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-5.1 (answer)
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-5.2 (error answer)
 */
export function createTokenRequest (auth: OAuth2ClientCredentialsAuth, deps: TokenRequestDeps): (span?: TokenFetchSpan) => Promise<TokenAnswer> {
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
  interface Body { readonly payload: string, readonly names: readonly string[], readonly secrets: readonly string[] }
  let body: () => Body | Promise<Body>
  // Every form our credentials take on the wire, to be kept out of what the server says back.
  const secrets = secretForms(auth, clientAuth)
  if (perRequest === undefined) {
    const fixed: Body = { payload: encode(fields), names: Object.keys(fields), secrets }
    body = () => fixed
  } else {
    body = async () => {
      const extra = await perRequest()
      const all = { ...fields, ...extra }
      return { payload: encode(all), names: Object.keys(all), secrets: [...secrets, ...Object.values(extra)] }
    }
  }
  const options = {
    method: 'POST',
    headers: { accept: 'application/json', 'content-type': CONTENT_TYPES[auth.bodyEncoding], ...deps.headers, ...clientAuth.headers },
    ...(deps.dispatcher === undefined ? {} : { dispatcher: deps.dispatcher })
  } as const
  const url = loggableUrl(tokenUrl)

  // Traced: the token request carries its span's traceparent, so the token server's trace joins ours (envoyproxy/envoy#41343).
  return async (span) => {
    let prepared: Body
    try {
      prepared = await body()
    } catch {
      throw fetchFailure('could not sign the client assertion', 'assertion')
    }
    const { payload } = prepared
    // The request as a person debugging it needs it, never a value: names only.
    deps.log?.debug?.({ method: 'POST', url, clientAuth: auth.clientAuth, bodyEncoding: auth.bodyEncoding, fields: prepared.names }, 'token request')
    let status: number
    let retryAfter: string | string[] | undefined
    let text: string | undefined
    try {
      // One deadline for connecting, the headers and the body alike.
      const headers = span === undefined ? options.headers : { ...options.headers, traceparent: span.traceparent }
      const res = await request(tokenUrl, { ...options, headers, body: payload, signal: AbortSignal.timeout(timeoutMs) })
      status = res.statusCode
      span?.status(status)
      retryAfter = res.headers['retry-after']
      text = await readText(res.body)
    } catch (err) {
      throw networkFailure(err, timeoutMs)
    }
    // The status first: an oversized error page is reported by its status, not its size.
    if (status < 200 || status > 299) throw httpFailure(status, retryAfter, text ?? '', now(), prepared.secrets)
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

function httpFailure (status: number, retryAfter: string | string[] | undefined, text: string, nowMs: number, secrets: readonly string[]): TokenFetchError {
  let detail = `HTTP ${status}`
  const { code, description } = errorAnswer(text)
  // A short word, but it could still be something we sent (a secret that is one word).
  if (code !== undefined) detail += ` ${vendorWords(code, secrets) === code ? code : REDACTED_WORDS}`
  let retryAfterMs: number | undefined
  // RFC 9110 §10.2.3: retry-after means something on a 429 or a 503.
  if ((status === 429 || status === 503) && retryAfter !== undefined) {
    retryAfterMs = capRetryAfter(parseRetryAfter(retryAfter, nowMs), MAX_TOKEN_RETRY_AFTER_MS).ms
    detail += `, retry after ${Math.ceil(retryAfterMs / 1000)} s`
  }
  // The server's own words last, after a colon: they say best what is wrong ("Client authentication failed").
  const words = description === undefined ? '' : vendorWords(description, secrets)
  if (words !== '') detail += `: ${words}`
  return fetchFailure(detail, 'http', retryAfterMs)
}

/** The RFC 6749 §5.2 `error` code (a short word) and `error_description` (free text, raw) of an error answer. */
function errorAnswer (text: string): { code?: string, description?: string } {
  try {
    const { error, error_description: description } = (JSON.parse(text) ?? {}) as Record<string, unknown>
    return {
      ...(typeof error === 'string' && WORD.test(error) ? { code: error } : {}),
      ...(typeof description === 'string' ? { description } : {})
    }
  } catch {
    return {}
  }
}

/**
 * What looks like a credential, whoever's it is (the patterns the test run is
 * scanned for, scripts/secret-patterns.mjs, a little wider): a private key, a
 * JWT or a part of one, an Authorization value, a credential form field or
 * JSON member. The scheme or the name is kept, the value goes.
 */
const CREDENTIAL_SHAPES: ReadonlyArray<readonly [RegExp, string]> = [
  [/-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)/g, REDACTED_WORDS],
  [/\beyJ[A-Za-z0-9_-]{8,}(?:\.[A-Za-z0-9_-]*){0,2}/g, REDACTED_WORDS],
  [/\b(Bearer|Basic)\s+[A-Za-z0-9._~+/-]{8,}=*/gi, `$1 ${REDACTED_WORDS}`],
  [/\b(client_secret|client_assertion|access_token|refresh_token|id_token|assertion|password)=(?!<redacted>)[^&\s;,]+/gi, `$1=${REDACTED_WORDS}`],
  [/"(client_secret|client_assertion|access_token|refresh_token|id_token|password)"\s*:\s*"[^"]*"/gi, `"$1": ${REDACTED_WORDS}`]
]

/** C0 and C1 controls, and invisible format characters (bidi overrides, zero widths) that could disguise the text. */
const INVISIBLE = /[\p{Cc}\p{Cf}]/gu

/**
 * A token server's free text made fit for `detail`, /status and the log:
 * line breaks and tabs become spaces and every other control or format
 * character goes (before anything else, so none can split a secret and
 * hide it from what follows); every form of our credentials (`secrets`) and
 * anything shaped like a credential is replaced by <redacted>; spaces are
 * collapsed; and the result is cut to MAX_DESCRIPTION_CHARS, after the
 * redaction, so that no secret survives in part at the cut.
 */
export function vendorWords (text: string, secrets: readonly string[]): string {
  let words = text.replace(/[\t\n\r]/g, ' ').replace(INVISIBLE, '')
  // Longest first: an assertion that holds a shorter form is replaced whole.
  for (const secret of [...secrets].sort((a, b) => b.length - a.length)) {
    if (secret.length >= 4 && words.includes(secret)) words = words.split(secret).join(REDACTED_WORDS)
  }
  for (const [shape, replacement] of CREDENTIAL_SHAPES) words = words.replace(shape, replacement)
  words = words.replace(/\s+/g, ' ').trim()
  const chars = [...words]
  return chars.length <= MAX_DESCRIPTION_CHARS ? words : `${chars.slice(0, MAX_DESCRIPTION_CHARS - 1).join('').trimEnd()}…`
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

/**
 * Of an upstream's configured `headers`, those its token requests carry too:
 * the User-Agent (its name in any case), since vendors such as Halaxy ask
 * every request to name the application. The others (Accept, API keys) are
 * for the API and stay off the token request.
 */
export function tokenRequestHeaders (headers: Readonly<Record<string, string>>): Readonly<Record<string, string>> {
  for (const [name, value] of Object.entries(headers)) {
    if (name.toLowerCase() === 'user-agent') return { 'user-agent': value }
  }
  return {}
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
