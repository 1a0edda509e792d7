/**
 * The `token` step: one real token request, built and sent by the
 * sidecar's own code (src/auth/token-request.ts: the same dialect, fields,
 * headers, assertion, dispatcher, TLS and proxy), straight to the token
 * endpoint. No cache and no store: the doctor never reads or writes the
 * shared store, so the token it gets is used for the probe and dropped.
 *
 * The line says how long the token lives, what scope and audience it
 * carries and, for a JWT, its claims; never the token. A refusal is
 * reported as the sidecar's token client words it (already sanitised: the
 * status, the vendor's RFC 6749 `error` code and its `error_description`
 * with every credential redacted), plus which keys to check.
 */
import { getGlobalDispatcher, type Dispatcher } from 'undici'
import type { OAuth2ClientCredentialsAuth } from '../config/types.js'
import { createTokenRequest, tokenRequestHeaders, type TokenAnswer, type TokenFetchError } from '../auth/token-request.js'
import { readClaims } from './claims.js'
import { RecordingDispatcher, type RecordedAnswer } from './recording-dispatcher.js'
import { fail, ok, printable, warn, type StepOutcome } from './step.js'

export interface TokenStep {
  readonly outcome: StepOutcome
  /** The token endpoint's answer, refusals included (for the clock step); undefined when none came. */
  readonly answer: RecordedAnswer | undefined
  /** For the probe: the fetched access token; undefined when the step failed. */
  readonly accessToken: string | undefined
}

export interface TokenStepOptions {
  /** The upstream's configured headers: its User-Agent goes on the token request, as in the sidecar. */
  readonly headers: Readonly<Record<string, string>>
  /** The upstream's token dispatcher (TLS, proxy); undici's global one when undefined, as in the sidecar. */
  readonly dispatcher: Dispatcher | undefined
  /** Wall clock, epoch ms. */
  readonly now: () => number
  /** Called with the token as soon as it is known, before anything is written: it joins the redacted values. */
  readonly onToken: (token: string) => void
}

/** RFC 6749 §5.2 `error` codes are short words; anything else is not quoted. */
const WORD = /^[\w.-]{1,64}$/

export async function fetchTokenStep (auth: OAuth2ClientCredentialsAuth, options: TokenStepOptions): Promise<TokenStep> {
  const recorder = new RecordingDispatcher(options.dispatcher ?? getGlobalDispatcher(), options.now)
  let fetchToken: () => Promise<TokenAnswer>
  try {
    fetchToken = createTokenRequest(auth, { now: options.now, dispatcher: recorder, headers: tokenRequestHeaders(options.headers) })
  } catch (err) {
    // A credential the validator let through but the client cannot use; the message names the key, never its value.
    return { outcome: fail(printable((err as Error).message)), answer: undefined, accessToken: undefined }
  }
  const started = performance.now()
  let token: TokenAnswer
  try {
    token = await fetchToken()
  } catch (err) {
    const answer = recorder.last
    return { outcome: fail(refusal(err as TokenFetchError, answer, auth)), answer, accessToken: undefined }
  }
  options.onToken(token.accessToken)
  const ms = Math.round(performance.now() - started)
  const answer = recorder.last
  const fields = answer === undefined ? {} : parseObject(answer.body())
  const claims = await readClaims(token.accessToken)
  const problems: string[] = []
  const parts = [lifetime(token, fields.expires_in, claims.expiresAt !== undefined)]

  const granted = typeof fields.scope === 'string' ? fields.scope : undefined
  if (granted !== undefined) {
    parts.push(`scope "${printable(granted, 80)}"`)
    const missing = (auth.scope ?? '').split(' ').filter((s) => s !== '' && !granted.split(' ').includes(s))
    if (missing.length > 0) problems.push(`the granted scope lacks "${printable(missing.join(' '), 80)}" of the requested "${printable(auth.scope ?? '', 80)}"`)
  } else if (auth.scope !== undefined) {
    // RFC 6749 §5.1: no `scope` in the answer means the requested one was granted.
    parts.push(`scope as requested ("${printable(auth.scope, 80)}")`)
  }
  if (auth.audience !== undefined) {
    parts.push(`audience "${printable(auth.audience, 80)}" requested`)
    if (claims.audience !== undefined && !claims.audience.includes(auth.audience)) problems.push(`the token's aud does not name the requested audience "${printable(auth.audience, 80)}"`)
  }
  parts.push(claims.text)
  const detail = `${parts.join(', ')}; fetched in ${ms} ms`
  const outcome = problems.length === 0 ? ok(detail) : warn(`${detail}; but ${problems.join('; ')}`)
  return { outcome, answer, accessToken: token.accessToken }
}

/** How long the token is used, and where that number comes from when it is not the server's `expires_in`. */
function lifetime (token: TokenAnswer, expiresIn: unknown, isJwtWithExp: boolean): string {
  const seconds = Math.round(token.lifetimeMs / 1000)
  const stated = typeof expiresIn === 'number' ? expiresIn : typeof expiresIn === 'string' && /^\d+$/.test(expiresIn) ? Number(expiresIn) : undefined
  if (stated !== undefined && stated > 0) {
    return stated > seconds + 1 ? `expires in ${seconds} s (the server says ${stated} s; auth.maxTokenTtl caps it)` : `expires in ${seconds} s`
  }
  return isJwtWithExp ? `expires in ${seconds} s (from the JWT's exp: the answer has no expires_in)` : `expires in ${seconds} s (assumed: the answer has no expires_in and the token no exp)`
}

/** The failure as the sidecar words it (already sanitised), and which keys to look at. */
function refusal (err: TokenFetchError, answer: RecordedAnswer | undefined, auth: OAuth2ClientCredentialsAuth): string {
  const detail = typeof err.detail === 'string' ? err.detail : 'the token request failed'
  if (answer === undefined || err.reason !== 'http') {
    return err.reason === 'answer' ? `${detail}; is auth.tokenUrl the token endpoint?` : detail
  }
  const body = parseObject(answer.body())
  const hint = hintFor(answer.status, typeof body.error === 'string' && WORD.test(body.error) ? body.error : undefined, auth)
  return hint === undefined ? detail : `${detail}; ${hint}`
}

function hintFor (status: number, code: string | undefined, auth: OAuth2ClientCredentialsAuth): string | undefined {
  switch (code) {
    case 'invalid_client':
      return auth.clientAuth === 'private_key_jwt'
        ? 'check auth.clientId, auth.keyId and auth.privateKey: the vendor must hold that key\'s public half under that kid'
        : 'check auth.clientId and auth.clientSecret'
    case 'unauthorized_client':
      return 'this client may not use the client_credentials grant: ask the vendor'
    case 'invalid_scope':
      return 'check auth.scope'
    case 'invalid_request':
    case 'unsupported_grant_type':
      return 'check auth.clientAuth and auth.bodyEncoding (or the preset): the vendor\'s dialect may differ'
  }
  if (status === 401) return auth.clientAuth === 'private_key_jwt' ? 'check auth.clientId, auth.keyId and auth.privateKey' : 'check auth.clientId and auth.clientSecret'
  if (status === 404 || status === 405) return 'check auth.tokenUrl'
  return undefined
}

function parseObject (text: string): Record<string, unknown> {
  try {
    const parsed: unknown = JSON.parse(text)
    return parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) ? parsed as Record<string, unknown> : {}
  } catch {
    return {}
  }
}
