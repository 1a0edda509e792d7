import type { CredentialSource, CredentialStatus } from './source.js'

const NONE_STATUS: CredentialStatus = Object.freeze({ type: 'none', state: 'none' })
const STATIC_STATUS: CredentialStatus = Object.freeze({ type: 'static_bearer', state: 'valid' })

/** `auth: none`: the upstream gets no Authorization header. */
export const noCredentials: CredentialSource = Object.freeze({
  authorization: () => undefined,
  invalidate () {},
  renewable: false,
  status: () => NONE_STATUS,
  close () {}
})

/**
 * `auth: static_bearer`: the same `Bearer <token>` for every request.
 * `invalidate` does nothing: there is no other token to get (not
 * `renewable`), so a 401 goes back to the app, unretried.
 *
 * @see https://www.rfc-editor.org/rfc/rfc6750#section-2.1
 */
export function createStaticBearer (token: string): CredentialSource {
  const value = `Bearer ${token}`
  return {
    authorization: () => value,
    invalidate () {},
    renewable: false,
    status: () => STATIC_STATUS,
    close () {}
  }
}
