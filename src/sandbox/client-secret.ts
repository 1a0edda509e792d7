/**
 * Client authentication with a client secret, in exactly the one place the
 * vendor's page puts it (RFC 6749 §2.3.1): in the body (`client_secret_post`:
 * Halaxy, HealthHero, Photon) or in HTTP Basic (`client_secret_basic`:
 * NikoHealth). A secret in the other place is refused, so that a client
 * configured for the wrong method fails against the sandbox as it would
 * against the vendor.
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import type { FastifyRequest } from 'fastify'
import { invalidClient, invalidRequest } from './oauth-error.js'
import { fail, type Read, type TokenParams } from './token-request.js'

export type SecretMethod = 'client_secret_post' | 'client_secret_basic'

/** The authenticated client id, or the refusal. */
export function authenticateWithSecret (
  request: FastifyRequest,
  params: TokenParams,
  method: SecretMethod,
  clients: ReadonlyMap<string, string>,
  realm: string
): Read<string> {
  const basic = readBasic(request.headers.authorization)
  const challenge = `Basic realm="${realm}"`
  // RFC 6749 §2.3: "The client MUST NOT use more than one authentication method in each request."
  if (basic !== undefined && params.has('client_secret')) {
    return fail(invalidRequest('the client secret is both in HTTP Basic and in the body: use one method'))
  }

  if (method === 'client_secret_post') {
    // §5.2: a client that tried an HTTP scheme gets 401 and a challenge for that scheme.
    if (basic !== undefined) return fail(invalidClient('this token endpoint takes client_id and client_secret in the request body, not in HTTP Basic', challenge))
    const clientId = params.get('client_id')
    const secret = params.get('client_secret')
    if (clientId === undefined || secret === undefined) return fail(invalidClient('client_id and client_secret are required in the request body'))
    return verify(clients, clientId, secret)
  }

  // §5.2 "MAY ... indicate which HTTP authentication schemes are supported": tell the client to use Basic.
  if (basic === undefined) {
    const where = params.has('client_id') ? 'not in the request body' : 'none was sent'
    return fail(invalidClient(`this token endpoint takes the client credentials in HTTP Basic (RFC 6749 §2.3.1); ${where}`, challenge))
  }
  if (basic === 'malformed') return fail(invalidClient('the Basic credentials are not base64 of form-urlencoded "client_id:client_secret"', challenge))
  // §3.2.1 lets a client name itself with client_id as well; it must be the same client.
  const bodyId = params.get('client_id')
  if (bodyId !== undefined && bodyId !== basic.clientId) return fail(invalidRequest('client_id in the body differs from the one in HTTP Basic'))
  const result = verify(clients, basic.clientId, basic.secret)
  return result.ok ? result : fail({ ...result.error, challenge })
}

/**
 * RFC 6749 §2.3.1: "The client identifier is encoded using the
 * application/x-www-form-urlencoded encoding algorithm ..., and the encoded
 * value is used as the username; the client password is encoded using the
 * same algorithm and used as the password." So `+` is a space and `%2B` a
 * plus; a client that base64s a raw secret with `+` or `%` in it fails here,
 * as it would against a strict server.
 *
 * Returns undefined when there is no Basic header (another scheme counts as none).
 */
export function readBasic (header: string | undefined): { clientId: string, secret: string } | 'malformed' | undefined {
  if (header === undefined) return undefined
  const match = /^basic[ \t]+(\S*)[ \t]*$/i.exec(header)
  if (match === null) return /^basic\b/i.test(header) ? 'malformed' : undefined
  const encoded = match[1] ?? ''
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(encoded) || encoded.length % 4 !== 0) return 'malformed'
  const decoded = Buffer.from(encoded, 'base64').toString('utf8')
  const colon = decoded.indexOf(':')
  if (colon === -1) return 'malformed'
  const clientId = formDecode(decoded.slice(0, colon))
  const secret = formDecode(decoded.slice(colon + 1))
  if (clientId === undefined || secret === undefined || clientId === '') return 'malformed'
  return { clientId, secret }
}

function formDecode (value: string): string | undefined {
  try {
    return decodeURIComponent(value.replace(/\+/g, ' '))
  } catch {
    return undefined
  }
}

function verify (clients: ReadonlyMap<string, string>, clientId: string, secret: string): Read<string> {
  const expected = clients.get(clientId)
  // Compare digests so the time taken says nothing about the secret, not even its length.
  if (expected === undefined || !timingSafeEqual(sha256(expected), sha256(secret))) {
    return fail(invalidClient('unknown client or wrong client secret'))
  }
  return { ok: true, value: clientId }
}

function sha256 (value: string): Buffer {
  return createHash('sha256').update(value).digest()
}
