/**
 * The auth side of tollgate: one CredentialSource per upstream, chosen once
 * from its `auth` config (habit H7: variants are strategies chosen at
 * config time).
 */
import type { Dispatcher } from 'undici'
import type { AuthConfig } from '../config/types.js'
import { credentialKey } from './fingerprint.js'
import { sharedMemoryTokenStore } from './memory-token-store.js'
import type { CredentialSource } from './source.js'
import { createStaticBearer, noCredentials } from './static.js'
import { createTokenCache } from './token-cache.js'
import { createTokenRequest } from './token-request.js'
import type { TokenStore } from './token-store.js'
import type { TokenFetchTracer } from '../telemetry/tracing.js'

export type { CredentialSource, CredentialStatus } from './source.js'
export type { TokenFetchError, TokenFailureReason } from './token-request.js'
export { tokenRequestHeaders } from './token-request.js'
export type { TokenStore } from './token-store.js'

export interface CredentialDeps {
  /** For TLS or a proxy on the way to the token endpoint; undici's global dispatcher by default. */
  readonly dispatcher?: Dispatcher
  /** Headers each token request carries besides its own: the upstream's User-Agent (tokenRequestHeaders). */
  readonly tokenHeaders?: Readonly<Record<string, string>>
  /** Monotonic clock, ms (performance.now by default): token lifetimes, refresh times, backoffs. */
  readonly now?: () => number
  /** Wall clock, epoch ms (Date.now by default): a JWT `exp`, an HTTP-date, the instants in status(). */
  readonly wallNow?: () => number
  /** Where token state lives; by default this process's memory, one entry per set of credentials. */
  readonly tokenStore?: TokenStore
  readonly log?: {
    info (obj: object, msg: string): void
    warn (obj: object, msg: string): void
    debug? (obj: object, msg: string): void
  }
  /** Metrics hook, called once per token request; `reason` is a TokenFailureReason, or `rejected`. */
  readonly onFetch?: (outcome: 'ok' | 'failed', reason?: string) => void
  /** Tracing on: each token request of an oauth2 source is a span. */
  readonly tracer?: TokenFetchTracer
}

const monotonic = (): number => performance.now()

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
      const now = deps.now ?? monotonic
      const wallNow = deps.wallNow ?? Date.now
      // Log lines get the upstream from the caller's child logger.
      return createTokenCache({
        store: deps.tokenStore ?? sharedMemoryTokenStore(credentialKey(upstream, auth), now),
        fetchToken: createTokenRequest(auth, {
          now: wallNow,
          log: deps.log,
          ...(deps.dispatcher === undefined ? {} : { dispatcher: deps.dispatcher }),
          ...(deps.tokenHeaders === undefined ? {} : { headers: deps.tokenHeaders })
        }),
        fetchTimeoutMs: auth.timeoutMs,
        refreshBeforeMs: auth.refreshBeforeMs,
        now,
        wallNow,
        log: deps.log,
        onFetch: deps.onFetch,
        tracer: deps.tracer
      })
    }
  }
}
