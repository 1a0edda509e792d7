/**
 * Reading a token request the way the vendor documents it: the body's media
 * type is part of the contract (Halaxy and Photon post JSON, the others a
 * form), so a body in the other encoding is refused, not guessed at.
 */
import type { FastifyRequest } from 'fastify'
import { invalidRequest, unsupportedGrantType, type OAuthError } from './oauth-error.js'

export type TokenEncoding = 'json' | 'form'

export type Read<T> = { readonly ok: true, readonly value: T } | { readonly ok: false, readonly error: OAuthError }

/** Token request parameters; absent and empty ones are both absent (RFC 6749 §3.1). */
export type TokenParams = ReadonlyMap<string, string>

const MEDIA_TYPES: Readonly<Record<TokenEncoding, string>> = {
  json: 'application/json',
  form: 'application/x-www-form-urlencoded'
}

/**
 * The parameters of a POSTed token request, plus the checks every vendor
 * shares: the documented media type, well-formed parameters, and
 * `grant_type=client_credentials`.
 */
export function readTokenRequest (request: FastifyRequest, encoding: TokenEncoding, doc: string): Read<TokenParams> {
  const expected = MEDIA_TYPES[encoding]
  const mediaType = (request.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase()
  if (mediaType !== expected) {
    return fail(invalidRequest(`the token request body must be ${expected} (${doc})`))
  }
  const body = Buffer.isBuffer(request.body) ? request.body.toString('utf8') : ''
  const params = encoding === 'json' ? readJson(body) : readForm(body)
  if (!params.ok) return params

  const grantType = params.value.get('grant_type')
  if (grantType === undefined) return fail(invalidRequest('grant_type is required'))
  if (grantType !== 'client_credentials') return fail(unsupportedGrantType(`grant_type ${JSON.stringify(grantType)} is not supported: use client_credentials`))
  return params
}

function readJson (body: string): Read<TokenParams> {
  let parsed: unknown
  try {
    parsed = JSON.parse(body)
  } catch {
    return fail(invalidRequest('the body is not valid JSON'))
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return fail(invalidRequest('the body must be a JSON object'))
  const params = new Map<string, string>()
  for (const [name, value] of Object.entries(parsed)) {
    if (value === null || value === '') continue
    if (typeof value !== 'string') return fail(invalidRequest(`${name} must be a string`))
    params.set(name, value)
  }
  return { ok: true, value: params }
}

function readForm (body: string): Read<TokenParams> {
  const params = new Map<string, string>()
  const seen = new Set<string>()
  for (const [name, value] of new URLSearchParams(body)) {
    // RFC 6749 §3.2: "Request and response parameters MUST NOT be included more than once."
    if (seen.has(name)) return fail(invalidRequest(`${name} is repeated`))
    seen.add(name)
    if (value !== '') params.set(name, value)
  }
  return { ok: true, value: params }
}

export function fail<T> (error: OAuthError): Read<T> {
  return { ok: false, error }
}
