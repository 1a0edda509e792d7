import type { OAuth2ClientCredentialsAuth } from '../config/types.js'
import { createAssertionSigner } from './assertion.js'

/** RFC 7523 §2.2: the `client_assertion_type` of a JWT client assertion. */
export const JWT_BEARER_ASSERTION = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'

type Fields = Readonly<Record<string, string>>

/**
 * How a client proves itself to the token endpoint, chosen once per upstream
 * (openid-client's ClientAuth strategies). What never changes is computed
 * here, so a secret-based token request is built entirely at startup.
 */
export interface ClientAuth {
  /** Headers sent with every token request. */
  readonly headers: Fields
  /** Body fields sent with every token request. */
  readonly fields: Fields
  /** Body fields that must be new for each request (a signed assertion). */
  readonly perRequest?: () => Promise<Fields>
}

/**
 * The strategy for `auth.clientAuth`.
 *
 * - client_secret_post: `client_id` and `client_secret` in the body.
 * - client_secret_basic: HTTP Basic, the id and the secret each
 *   form-urlencoded first, so `:` in an id and non-ASCII survive.
 * - private_key_jwt: a fresh signed assertion per request. No `client_id`
 *   in the body: RFC 7521 §4.2 makes it optional, the assertion's `iss`
 *   names the client, and Redox documents exactly three fields.
 *
 * @throws TypeError when the method's credential is missing or unusable.
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-2.3.1
 * @see https://www.rfc-editor.org/rfc/rfc7523#section-2.2
 */
export function createClientAuth (auth: OAuth2ClientCredentialsAuth, now: () => number): ClientAuth {
  const { clientId, clientSecret } = auth
  switch (auth.clientAuth) {
    case 'client_secret_post':
      return { headers: {}, fields: { client_id: clientId, client_secret: required(clientSecret, 'clientSecret') } }
    case 'client_secret_basic': {
      const pair = `${formEncode(clientId)}:${formEncode(required(clientSecret, 'clientSecret'))}`
      return { headers: { authorization: `Basic ${Buffer.from(pair).toString('base64')}` }, fields: {} }
    }
    case 'private_key_jwt': {
      const sign = createAssertionSigner({
        clientId,
        audience: auth.assertionAudience,
        privateKey: required(auth.privateKey, 'privateKey'),
        alg: auth.signingAlg,
        now,
        ...(auth.keyId === undefined ? {} : { keyId: auth.keyId })
      })
      return {
        headers: {},
        fields: { client_assertion_type: JWT_BEARER_ASSERTION },
        perRequest: async () => ({ client_assertion: await sign() })
      }
    }
  }
}

/**
 * Every form the credentials of `auth` take on the wire or at rest: the
 * client secret as is, form-, URL- and JSON-encoded, the Basic header's
 * value, and the private key whole and line by line. What a token server
 * says back is cleaned of these (token-request.ts `vendorWords`); the
 * per-request assertion is added there.
 */
export function secretForms (auth: OAuth2ClientCredentialsAuth, clientAuth: ClientAuth): readonly string[] {
  const forms = new Set<string>()
  const secret = auth.clientSecret
  if (secret !== undefined && secret !== '') {
    forms.add(secret).add(formEncode(secret)).add(encodeURIComponent(secret)).add(JSON.stringify(secret).slice(1, -1))
  }
  const basic = clientAuth.headers.authorization
  if (basic !== undefined) forms.add(basic.slice(basic.indexOf(' ') + 1))
  const key = auth.privateKey
  if (key !== undefined && key !== '') {
    forms.add(key.trim())
    for (const line of key.split(/\r?\n/)) if (line.length >= 16 && !line.startsWith('-----')) forms.add(line.trim())
  }
  // Longest first: a form that contains another is replaced whole.
  return [...forms].filter((form) => form.length >= 4).sort((a, b) => b.length - a.length)
}

/** application/x-www-form-urlencoded, as RFC 6749 Appendix B defines it (space → `+`). */
function formEncode (value: string): string {
  return new URLSearchParams([['', value]]).toString().slice(1)
}

function required (value: string | undefined, name: string): string {
  if (value === undefined || value === '') throw new TypeError(`"${name}" is required for this clientAuth`)
  return value
}
