/**
 * `store.type: redis`: one connection per sidecar, one shared limiter and one
 * shared token source per upstream (the pieces are in this folder).
 */
import { createCredentialSource, type CredentialDeps } from '../auth/index.js'
import type { StoreConfig, UpstreamConfig } from '../config/types.js'
import { StoreUnavailable } from '../errors.js'
import { createLimiter, type LimiterDeps, PAUSE_ONLY } from '../limit/index.js'
import type { Store, StoreDeps } from './index.js'
import { RedisConnection } from './redis-client.js'
import { redisLocation } from './redis-connect.js'
import { createRedisWindow } from './redis-window.js'
import { ReplicaRegistry } from './replica-registry.js'
import { createRedisTokenStore, tokenWaitBoundMs } from './redis-token-store.js'

const monotonic = (): number => performance.now()

/** Slack on top of the computed longest pending time (event-loop delays, Redis round trips). */
const PENDING_SLACK_MS = 5000

export async function openRedisStore (config: StoreConfig, deps: StoreDeps): Promise<Store> {
  const log = deps.log
  const connection = new RedisConnection(config, log)
  const where = redisLocation(config)
  const started = await connection.start()
  if (started.ok) {
    log?.info({ redis: where, keyPrefix: config.keyPrefix, onUnavailable: config.onUnavailable }, 'shared store connected: limits and tokens are shared with every replica on it')
  } else if (config.onUnavailable === 'fail') {
    await connection.close()
    // A reason that names a field (store.tls.ca, store.password) is the config's to fix, not Redis' to come back.
    const field = /^store\.[\w.]+(?: \/ store\.[\w.]+)?/.exec(started.reason)?.[0]
    const err = new StoreUnavailable(`cannot reach Redis at ${where} (${started.reason}) and store.onUnavailable is fail; ${field === undefined ? 'start Redis' : `fix ${field}`} or set store.onUnavailable: local`)
    // An operator's problem, not a bug: the CLI prints err.stack, so keep it to the message.
    err.stack = `${err.name} [${err.code}]: ${err.message}`
    throw err
  } else {
    log?.warn({ redis: where, reason: started.reason, keyPrefix: config.keyPrefix, onUnavailable: config.onUnavailable },
      'SHARED STORE UNAVAILABLE AT STARTUP: running on per-process limits and tokens (store.onUnavailable: local); replicas do NOT share the quota until Redis is reachable')
  }

  // Who else is on this store: the strictest limits per upstream, and k for the fallback share.
  const registry = new ReplicaRegistry(connection, config.fallbackReplicas)
  connection.onReady(() => { registry.beat() })
  registry.start()

  return {
    type: 'redis',
    createLimiter (upstream: UpstreamConfig, limiterDeps: LimiterDeps = {}) {
      const tokenWaitMs = upstream.auth.type === 'oauth2_client_credentials' ? tokenWaitBoundMs(upstream.auth, config.commandTimeoutMs) : 0
      const now = limiterDeps.now ?? monotonic
      // Without rateLimit: no window, but a 429 still pauses the upstream on every replica.
      const window = createRedisWindow({
        upstream: upstream.name,
        config: upstream.rateLimit ?? PAUSE_ONLY,
        maxPendingMs: tokenWaitMs + upstream.timeoutMs + PENDING_SLACK_MS,
        connection,
        registry,
        now
      })
      // The wall clock only for status()'s epoch fields: without it, createLimiter would take `now` (monotonic) for it too.
      return createLimiter(upstream.rateLimit, { wallNow: Date.now, ...limiterDeps, now }, window)
    },
    createCredentialSource (upstream: UpstreamConfig, credentialDeps: CredentialDeps = {}) {
      if (upstream.auth.type !== 'oauth2_client_credentials') return createCredentialSource(upstream.name, upstream.auth, credentialDeps)
      const now = credentialDeps.now ?? monotonic
      const tokenStore = createRedisTokenStore({ upstream: upstream.name, auth: upstream.auth, connection, encryptionKey: config.encryptionKey, now, log: credentialDeps.log })
      return createCredentialSource(upstream.name, upstream.auth, { ...credentialDeps, now, tokenStore })
    },
    status: () => {
      const replicasSeen = registry.replicasSeen()
      return replicasSeen === undefined ? connection.status() : { ...connection.status(), replicasSeen }
    },
    close: async () => {
      registry.close()
      await connection.close()
    }
  }
}
