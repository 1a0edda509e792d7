/** What one upstream runs on, made once per upstream by server.ts: plain references, no behaviour. */
import type { Dispatcher } from 'undici'
import type { CredentialSource } from '../auth/source.js'
import type { UpstreamConfig } from '../config/types.js'
import type { Limiter } from '../limit/limiter.js'
import type { UpstreamMeter } from '../ops/metrics.js'

export interface UpstreamRuntime {
  readonly config: UpstreamConfig
  /** Replaced when a rotated secret file changes the credentials (ops/secret-rotation.ts). */
  credentials: CredentialSource
  readonly limiter: Limiter
  readonly dispatcher: Dispatcher
  readonly meter: UpstreamMeter
}
