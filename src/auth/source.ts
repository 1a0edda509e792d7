/**
 * How the proxy obtains the credential for an upstream, without knowing how
 * it is made (Envoy injected_credentials/common/credential.h). One source per
 * upstream, chosen at startup by `createCredentialSource`.
 */

import type { TokenAsker } from '../telemetry/tracing.js'

export interface CredentialStatus {
  readonly type: string
  /** valid | expired | fetching | failing | rejected (the upstream refused a new token on its first use) | none */
  readonly state: string
  /** Epoch ms the current token stops being used, if any. Never the token. */
  readonly expiresAt?: number
  readonly lastRefreshAt?: number
  /** A sanitised reason (HTTP status, RFC 6749 `error` code, "timed out"). */
  readonly lastError?: string
  readonly fetches?: { readonly ok: number, readonly failed: number }
}

export interface CredentialSource {
  /**
   * The `Authorization` value to inject. A plain string (or undefined for
   * "send none") when it is at hand, which is the hot path; a promise only
   * when a token must first be fetched. All concurrent callers of one fetch
   * share its outcome. A failure rejects with a TG_TOKEN_FETCH_FAILED error
   * whose message never holds a secret, or, during the backoff after a token
   * was refused on its first use, TG_TOKEN_REJECTED with `retryAfterMs`.
   *
   * `asker`: the request's span, when tracing is on (null or absent when
   * off): a token fetch it starts is traced as its child, one it waits for
   * is linked from it.
   */
  authorization (asker?: TokenAsker | null): string | undefined | Promise<string | undefined>
  /**
   * An upstream answered 401 to a request that carried `value`: drop that
   * credential, unless a newer one has replaced it meanwhile. A fetched
   * token that was never `confirmed` is refused on its first use: that
   * counts as a failed fetch, with its backoff.
   */
  invalidate (value: string): void
  /**
   * Whether a 401 can be answered with another credential (a fetched token):
   * false for a static one, where a retry could only send the same value
   * again, so the 401 goes back to the app.
   */
  readonly renewable: boolean
  /**
   * An upstream answered a request that carried `value` with anything but
   * 401: the credential works. A credential whose first use is answered 401
   * was never good (a wrong scope, an unready vendor). Optional: only a
   * fetched token cares.
   */
  confirmed? (value: string): void
  status (): CredentialStatus
  /**
   * Stop timers. With `forget`, also drop the cached credential: the secret
   * behind it was rotated, and its token must not be handed out again.
   */
  close (options?: { forget?: boolean }): void
}
