/**
 * Where limiter and token state live, chosen once at startup from `store`
 * (habit H8: one contract, two stores). `memory` is the in-process limiter
 * and token cache; `redis` shares the window, the 429 pause, x-ratelimit
 * learning and the token across every replica that uses the same Redis and
 * keyPrefix (docs/scaling.md). ioredis is loaded only for `redis` (habit H2:
 * features that are off cost nothing).
 */
import { createCredentialSource, type CredentialDeps, type CredentialSource } from '../auth/index.js'
import type { StoreConfig, UpstreamConfig } from '../config/types.js'
import { createLimiter, type Limiter, type LimiterDeps } from '../limit/index.js'
import type { StoreLog, StoreStatus } from './redis-client.js'

export type { StoreLog, StoreStatus } from './redis-client.js'

export interface Store {
  readonly type: 'memory' | 'redis'
  createLimiter (upstream: UpstreamConfig, deps?: LimiterDeps): Limiter
  createCredentialSource (upstream: UpstreamConfig, deps?: CredentialDeps): CredentialSource
  /** For /status and /metrics: is shared state in use, and how often was it lost. */
  status (): StoreStatus
  /** After every limiter and source made from it is closed. */
  close (): Promise<void>
}

export interface StoreDeps {
  readonly log?: StoreLog
}

const MEMORY_STATUS: StoreStatus = Object.freeze({ type: 'memory', available: false, onUnavailable: 'local', outages: 0 })

export const memoryStore: Store = Object.freeze({
  type: 'memory' as const,
  createLimiter: (upstream: UpstreamConfig, deps?: LimiterDeps) => createLimiter(upstream.rateLimit, deps),
  createCredentialSource: (upstream: UpstreamConfig, deps?: CredentialDeps) => createCredentialSource(upstream.name, upstream.auth, deps),
  status: () => MEMORY_STATUS,
  close: async () => {}
})

/**
 * The store for a config. For `redis`, the first connection is tried here:
 * unreachable with `onUnavailable: fail`, this rejects with
 * TG_STORE_UNAVAILABLE (the sidecar must not listen); with `local`, it
 * resolves after a warning and keeps reconnecting in the background.
 */
export async function openStore (config: StoreConfig, deps: StoreDeps = {}): Promise<Store> {
  if (config.type === 'memory') return memoryStore
  const { openRedisStore } = await import('./redis-store.js')
  return await openRedisStore(config, deps)
}
