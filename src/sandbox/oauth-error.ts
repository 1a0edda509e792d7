/**
 * How a token endpoint refuses, per RFC 6749 §5.2: a JSON body with `error`
 * (and here always an `error_description` saying what to fix), 400 for a
 * malformed request and 401 for failed client authentication, with a
 * `WWW-Authenticate` challenge whenever the client tried (or must use) an
 * HTTP authentication scheme.
 */
import type { FastifyReply } from 'fastify'

export type OAuthErrorCode =
  | 'invalid_request'
  | 'invalid_client'
  | 'unsupported_grant_type'
  | 'invalid_scope'
  | 'invalid_target'

export interface OAuthError {
  readonly status: 400 | 401
  readonly error: OAuthErrorCode
  readonly description: string
  /** A `WWW-Authenticate` value, e.g. `Basic realm="nikohealth"`. */
  readonly challenge?: string
}

/** The request is malformed: a missing or repeated parameter, a wrong content type, two client auth methods. */
export function invalidRequest (description: string): OAuthError {
  return { status: 400, error: 'invalid_request', description }
}

/** "Client authentication failed (e.g., unknown client, no client authentication included, or unsupported authentication method)." */
export function invalidClient (description: string, challenge?: string): OAuthError {
  return { status: 401, error: 'invalid_client', description, ...(challenge === undefined ? {} : { challenge }) }
}

export function unsupportedGrantType (description: string): OAuthError {
  return { status: 400, error: 'unsupported_grant_type', description }
}

export function invalidScope (description: string): OAuthError {
  return { status: 400, error: 'invalid_scope', description }
}

/** RFC 8707 §2: the requested resource (here Auth0's `audience`) is unknown. */
export function invalidTarget (description: string): OAuthError {
  return { status: 400, error: 'invalid_target', description }
}

export function sendOAuthError (reply: FastifyReply, error: OAuthError): FastifyReply {
  if (error.challenge !== undefined) reply.header('www-authenticate', error.challenge)
  return noStore(reply).code(error.status).send({ error: error.error, error_description: error.description })
}

/** RFC 6749 §5.1: token answers, and errors alike, must not be cached. */
export function noStore (reply: FastifyReply): FastifyReply {
  return reply.header('cache-control', 'no-store').header('pragma', 'no-cache')
}
