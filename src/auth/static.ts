import type { CredentialSource, CredentialStatus } from './source.js'

const NONE_STATUS: CredentialStatus = Object.freeze({ type: 'none', state: 'none' })
const STATIC_STATUS: CredentialStatus = Object.freeze({ type: 'static_bearer', state: 'valid' })

/** `auth: none`: the upstream gets no Authorization header. */
export const noCredentials: CredentialSource = Object.freeze({
  authorization: () => undefined,
  invalidate: () => false,
  status: () => NONE_STATUS,
  close () {}
})

/**
 * `auth: static_bearer`: the same `Bearer <token>` for every request.
 * `invalidate` does nothing and says so: there is no other token to get, so
 * a 401 goes back to the app, unretried.
 *
 * @see https://www.rfc-editor.org/rfc/rfc6750#section-2.1
 */
export function createStaticBearer (token: string): CredentialSource {
  const value = `Bearer ${token}`
  return {
    authorization: () => value,
    invalidate: () => false,
    status: () => STATIC_STATUS,
    close () {}
  }
}
