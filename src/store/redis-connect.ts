/**
 * From `store` to ioredis clients, for the three ways to reach Redis:
 * - `url`: one primary (`redis://`, or `rediss://` for TLS);
 * - `sentinels` + `name`: the primary Redis Sentinel names, found again
 *   after a failover. tollgate listens to the sentinels itself
 *   (sentinel-watch.ts): it stops using the store when a failover starts and
 *   reconnects at `+switch-master`. Without that a client stays on a demoted
 *   primary until Sentinel reconfigures it (about 10 s with Redis 7), and
 *   every stamp written there meanwhile is lost;
 * - `cluster`: ioredis' Cluster client over the startup nodes. Every script
 *   touches the keys of one upstream, all under its `{<upstream>}` hash tag
 *   (window-scripts.ts, token-scripts.ts), so each runs on one slot.
 * Credentials (`store.username`, `store.password`) go to the primary, or to
 * every cluster node; `store.sentinelUsername` / `sentinelPassword` to the
 * sentinels. `store.tls` applies to every connection: sentinels, primaries
 * and cluster nodes alike.
 *
 * And the other way: a failure to connect in words that name the field to
 * fix (`explainConnectError`), for the startup error and the log.
 */
import { Cluster, Redis, type RedisOptions } from 'ioredis'
import type { StoreConfig } from '../config/types.js'
import { createTlsContext } from '../tls-context.js'
import type { SentinelWatchOptions } from './sentinel-watch.js'

export type RedisClient = Redis | Cluster

export interface RedisClients {
  /** Commands and scripts. */
  readonly client: RedisClient
  /** SUBSCRIBE only: keeps ioredis' offline queue and resubscribes on reconnect. */
  readonly subscriber: RedisClient
  /** With Sentinel: what sentinel-watch.ts needs to listen to the sentinels. */
  readonly sentinelWatch?: Omit<SentinelWatchOptions, 'onFailover' | 'onSwitch' | 'onAbort'>
}

/**
 * Primaries Sentinel has switched away from (`host:port` → the new one), as
 * heard on `+switch-master`. A sentinel that has not heard of the switch yet
 * still names the old primary; this puts the new one in its place (through
 * ioredis' natMap hook, which is applied to every primary address a sentinel
 * gives).
 */
export type MovedPrimaries = Map<string, { readonly host: string, readonly port: number }>

/** What the subscriber changes in tollgate's options: it waits for Redis rather than failing at once. */
const SUBSCRIBER: Partial<RedisOptions> = { enableOfflineQueue: true, maxRetriesPerRequest: null, commandTimeout: undefined, lazyConnect: false }

/**
 * The command client and the subscriber for `config`. `options` are
 * tollgate's ioredis options (redis-client.ts `redisOptions`, store.redis
 * included); the topology, credentials and TLS are added here.
 */
export function createRedisClients (config: StoreConfig, options: RedisOptions, moved: MovedPrimaries = new Map(), env: NodeJS.ProcessEnv = process.env): RedisClients {
  const secure = config.tls === undefined ? {} : { tls: { secureContext: createTlsContext(config.tls, env) } }
  const auth: RedisOptions = {
    ...(config.username === undefined ? {} : { username: config.username }),
    ...(config.password === undefined ? {} : { password: config.password })
  }
  if (config.cluster !== undefined) {
    const nodes = config.cluster.map(hostAndPort)
    // rediss:// nodes without store.tls: TLS with Node's trust store.
    const tls = config.tls === undefined && config.cluster.every((node) => node.startsWith('rediss://')) ? { tls: {} } : secure
    const tlsNames = usesTls(config)
    return { client: cluster(nodes, options, { ...auth, ...tls }, tlsNames), subscriber: cluster(nodes, { ...options, ...SUBSCRIBER }, { ...auth, ...tls }, tlsNames) }
  }
  if (config.sentinels !== undefined) {
    const sentinel: RedisOptions = {
      sentinels: config.sentinels.map(hostAndPort),
      name: config.name as string,
      ...(config.sentinelUsername === undefined ? {} : { sentinelUsername: config.sentinelUsername }),
      ...(config.sentinelPassword === undefined ? {} : { sentinelPassword: config.sentinelPassword }),
      natMap: natMap(moved, options.natMap),
      ...(secure.tls === undefined ? {} : { tls: secure.tls, sentinelTLS: secure.tls, enableTLSForSentinelMode: true }),
      ...(options.commandTimeout === undefined ? {} : { sentinelCommandTimeout: options.commandTimeout }),
      // Each connect asks the next sentinel; when all have been asked, this says when to start over. It must give a
      // delay: without one, ioredis ends the client for good (status 'end'), which a primary that stays down for
      // as many reconnects as there are sentinels is enough to cause.
      ...(typeof options.retryStrategy === 'function' ? { sentinelRetryStrategy: options.retryStrategy } : {})
    }
    // Not ioredis' failoverDetector: it hears only +switch-master, and its sentinel connections have no error listener.
    const watch = {
      sentinels: sentinel.sentinels as Array<{ host: string, port: number }>,
      name: sentinel.name as string,
      connection: {
        ...(config.sentinelUsername === undefined ? {} : { username: config.sentinelUsername }),
        ...(config.sentinelPassword === undefined ? {} : { password: config.sentinelPassword }),
        ...(secure.tls === undefined ? {} : { tls: secure.tls }),
        ...(options.connectTimeout === undefined ? {} : { connectTimeout: options.connectTimeout }),
        ...(typeof options.retryStrategy === 'function' ? { retryStrategy: options.retryStrategy } : {})
      }
    }
    return { client: new Redis({ ...options, ...auth, ...sentinel }), subscriber: new Redis({ ...options, ...SUBSCRIBER, ...auth, ...sentinel }), sentinelWatch: watch }
  }
  if (config.url === undefined) throw new TypeError("'store.url', 'store.sentinels' or 'store.cluster' is required for a redis store")
  return { client: new Redis(config.url, { ...options, ...auth, ...secure }), subscriber: new Redis(config.url, { ...options, ...SUBSCRIBER, ...auth, ...secure }) }
}

/** The moved primaries first, then the operator's own natMap (store.redis.natMap, an object: the config has no functions). */
function natMap (moved: MovedPrimaries, own: RedisOptions['natMap']): (key: string) => { host: string, port: number } | null {
  const table = typeof own === 'object' && own !== null ? own as Readonly<Record<string, { host: string, port: number }>> : {}
  return (key) => {
    const to = moved.get(key)
    const address = to === undefined ? key : `${to.host}:${to.port}`
    return table[address] ?? to ?? null
  }
}

/**
 * `tlsNames`: connect to the startup nodes by the names given, not by the
 * addresses they resolve to, so that TLS checks the certificate against the
 * name (ioredis' advice for managed clusters with TLS, such as ElastiCache).
 */
function cluster (nodes: ReadonlyArray<{ host: string, port: number }>, options: RedisOptions, node: RedisOptions, tlsNames: boolean): Cluster {
  const { retryStrategy, lazyConnect, enableOfflineQueue, ...perNode } = options
  return new Cluster([...nodes], {
    ...(tlsNames ? { dnsLookup: (address: string, callback: (err: null, address: string) => void) => callback(null, address) } : {}),
    ...(lazyConnect === undefined ? {} : { lazyConnect }),
    ...(enableOfflineQueue === undefined ? {} : { enableOfflineQueue }),
    ...(retryStrategy === undefined ? {} : { clusterRetryStrategy: retryStrategy }),
    redisOptions: { ...perNode, ...node }
  })
}

/** Where the store is, for the log and the startup error; never a password. */
export function redisLocation (config: StoreConfig): string {
  if (config.cluster !== undefined) return `cluster ${config.cluster.join(', ')}`
  if (config.sentinels !== undefined) return `sentinel ${config.name ?? ''} via ${config.sentinels.join(', ')}`
  try {
    const parsed = new URL(config.url ?? '')
    return `${parsed.protocol}//${parsed.host}`
  } catch {
    return 'an unparsable URL'
  }
}

/** Every password the connection uses: none may appear in a message tollgate passes on. */
export function redisPasswords (config: StoreConfig): string[] {
  const passwords = [config.password, config.sentinelPassword]
  try {
    passwords.push(decodeURIComponent(new URL(config.url ?? '').password))
  } catch {}
  for (const key of ['password', 'sentinelPassword']) {
    const value = config.redis?.[key]
    if (typeof value === 'string') passwords.push(value)
  }
  return passwords.filter((value): value is string => value !== undefined && value !== '')
}

/** Certificate checks that fail because the issuer is not trusted (OpenSSL's X509_V_ERR_* as Node names them). */
const UNTRUSTED = new Set(['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'CERT_UNTRUSTED', 'CERT_SIGNATURE_FAILURE'])

/**
 * Why a connection failed, naming the field to fix when the config is the
 * cause: the CA (store.tls.ca), the client certificate (store.tls.cert),
 * the credentials (store.password, store.sentinelPassword), the ACL user's
 * permissions. Anything else (a refused connection, a timeout) is the
 * message as it is.
 */
export function explainConnectError (err: Error & { code?: unknown }, config: StoreConfig): string {
  const message = err.message
  const code = typeof err.code === 'string' ? err.code : ''
  if (UNTRUSTED.has(code)) {
    return `store.tls.ca: Redis's certificate is not signed by a CA tollgate trusts (${message})${config.tls?.ca === undefined ? '; set store.tls.ca to the CA that signed it' : ''}`
  }
  if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID') return `Redis's certificate is not valid now (${message})`
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') return `Redis's certificate does not name the host tollgate connected to (${message})`
  if (/certificate required|alert number 116/i.test(message)) return `store.tls.cert: Redis asks for a client certificate (${message})`
  if (/unknown ca|bad certificate|alert number 4[28]/i.test(message)) return `store.tls.cert: Redis refused the client certificate (${message})`
  const refused = /WRONGPASS|NOAUTH|invalid password|invalid username-password/i.test(message)
  if (refused && /sentinel/i.test(message)) return `store.sentinelUsername / store.sentinelPassword: a sentinel refused them (${message})`
  if (refused) return `store.username / store.password: Redis refused them (${message})`
  if (/NOPERM/.test(message)) return `store.username: the ACL user may not run a command tollgate needs (${message}); docs/scaling.md lists them`
  // A Redis with tls-auth-clients yes resets a handshake without a client certificate; Node names no cause.
  if (code === 'ECONNRESET' && usesTls(config) && config.tls?.cert === undefined) return `${message}; if Redis asks for client certificates (tls-auth-clients yes), set store.tls.cert and store.tls.key`
  return message
}

function usesTls (config: StoreConfig): boolean {
  return config.tls !== undefined || config.url?.startsWith('rediss://') === true || config.cluster?.[0]?.startsWith('rediss://') === true
}

/** `host:port` or `redis[s]://host:port` (validated by the config) → ioredis' node form. */
export function hostAndPort (value: string): { host: string, port: number } {
  const url = new URL(value.includes('://') ? value : `redis://${value}`)
  return { host: url.hostname.replace(/^\[(.*)\]$/, '$1'), port: Number(url.port) }
}

/**
 * One TLS context for every connection, built once. As for an upstream, `ca`
 * adds to what Node trusts (its roots and NODE_EXTRA_CA_CERTS; see
 * src/egress/dispatcher.ts), it does not replace it.
 */
