/**
 * The auth side of tollgate: one CredentialSource per upstream, chosen once
 * from its `auth` config (habit H7: variants are strategies chosen at
 * config time).
 */
import type { Dispatcher } from 'undici'
import type { AuthConfig } from '../config/types.js'
import { credentialKey } from './fingerprint.js'
import type { CredentialSource } from './source.js'
import { createStaticBearer, noCredentials } from './static.js'
import { createTokenCache } from './token-cache.js'
import { createTokenRequest } from './token-request.js'

export type { CredentialSource, CredentialStatus } from './source.js'
export type { TokenFetchError, TokenFailureReason } from './token-request.js'

export interface CredentialDeps {
  /** For TLS or a proxy on the way to the token endpoint; undici's global dispatcher by default. */
  readonly dispatcher?: Dispatcher
  /** Clock, epoch ms; Date.now by default. */
  readonly now?: () => number
  readonly log?: {
    info (obj: object, msg: string): void
    warn (obj: object, msg: string): void
    debug? (obj: object, msg: string): void
  }
  /** Metrics hook, called once per token request; `reason` is a TokenFailureReason. */
  readonly onFetch?: (outcome: 'ok' | 'failed', reason?: string) => void
}

/**
 * The credential source for one upstream.
 *
 * @throws TypeError when an oauth2 credential is missing or its private key
 *   is unusable (the config validator reports these first).
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-4.4 (client credentials grant)
 */
export function createCredentialSource (upstream: string, auth: AuthConfig, deps: CredentialDeps = {}): CredentialSource {
  switch (auth.type) {
    case 'none':
      return noCredentials
    case 'static_bearer':
      return createStaticBearer(auth.token)
    case 'oauth2_client_credentials': {
      const now = deps.now ?? Date.now
      // Log lines get the upstream from the caller's child logger.
      return createTokenCache({
        key: credentialKey(upstream, auth),
        fetchToken: createTokenRequest(auth, deps.dispatcher === undefined ? { now } : { now, dispatcher: deps.dispatcher }),
        refreshBeforeMs: auth.refreshBeforeMs,
        now,
        log: deps.log,
        onFetch: deps.onFetch
      })
    }
  }
}
