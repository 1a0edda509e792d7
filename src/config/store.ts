/**
 * `store`: where limiter and token state live. With `type: redis`, exactly
 * one way to reach Redis (`url`, `sentinels` or `cluster`), credentials as
 * raw values (a password read from a file is not URL-encoded), and TLS
 * checked as an upstream's is. A setting given both as tollgate's own key
 * and under the ioredis pass-through (`store.redis`) is refused, naming
 * both: which of the two wins would be ioredis' choice, not the operator's.
 */
import * as defaults from './defaults.js'
import type { ConfigIssue } from './issues.js'
import type { RawStore } from './schema.js'
import { resolveTls } from './tls.js'
import type { StoreConfig } from './types.js'
import { collectSecrets, optional, safeUrl } from './values.js'

/** The ways to reach Redis: exactly one with type redis. */
const TOPOLOGY = ['url', 'sentinels', 'cluster'] as const

/** tollgate's own keys, and the ioredis options each of them sets (src/store/redis-connect.ts). */
const OWN_OPTIONS: ReadonlyArray<readonly [keyof RawStore, readonly string[]]> = [
  ['username', ['username']],
  ['password', ['password']],
  ['tls', ['tls', 'sentinelTLS', 'enableTLSForSentinelMode']],
  ['name', ['name']],
  ['sentinelUsername', ['sentinelUsername']],
  ['sentinelPassword', ['sentinelPassword']]
]

const SENTINEL_ONLY = ['name', 'sentinelUsername', 'sentinelPassword'] as const

const NODE = /^(rediss?):\/\//

export function resolveStore (raw: RawStore, issues: ConfigIssue[], secrets: Set<string>): StoreConfig {
  const type = raw.type ?? 'memory'
  const given = TOPOLOGY.filter((key) => raw[key] !== undefined)
  if (given.length > 1) {
    const [last, ...others] = [...given].reverse() as [string, ...string[]]
    issues.push({ path: `store.${last}`, message: `set together with ${others.reverse().map((key) => `store.${key}`).join(' and ')}: give exactly one of store.url, store.sentinels, store.cluster` })
  } else if (type === 'redis' && given.length === 0) {
    issues.push({ path: 'store.url', message: 'required when store.type is redis (or store.sentinels with store.name, or store.cluster)' })
  }
  if (raw.url !== undefined) checkUrl(raw.url, raw, issues, secrets)
  if (raw.sentinels !== undefined && raw.name === undefined) {
    issues.push({ path: 'store.name', message: 'required with store.sentinels: the name the sentinels monitor the primary under (sentinel monitor <name> ...), e.g. mymaster' })
  }
  if (raw.sentinels === undefined) {
    for (const key of SENTINEL_ONLY) if (raw[key] !== undefined) issues.push({ path: `store.${key}`, message: 'only used with store.sentinels' })
  }
  const clusterScheme = raw.cluster === undefined ? undefined : checkCluster(raw.cluster, raw.keyPrefix, issues)
  if (raw.tls !== undefined) {
    if (raw.url !== undefined && !raw.url.startsWith('rediss://')) issues.push({ path: 'store.tls', message: 'needs a rediss:// URL (store.url is redis://, which does not use TLS)' })
    if (clusterScheme === 'redis') issues.push({ path: 'store.tls', message: 'needs rediss:// cluster nodes (store.cluster lists redis:// ones, which do not use TLS)' })
  }
  const tls = resolveTls(raw.tls, 'store.tls', issues, secrets)
  for (const secret of [raw.password, raw.sentinelPassword, raw.encryptionKey]) if (secret !== undefined) secrets.add(secret)
  if (raw.redis !== undefined) checkPassThrough(raw, raw.redis, issues, secrets)
  return {
    type,
    keyPrefix: raw.keyPrefix ?? defaults.DEFAULT_KEY_PREFIX,
    onUnavailable: raw.onUnavailable ?? 'local',
    commandTimeoutMs: raw.commandTimeout ?? defaults.DEFAULT_STORE_COMMAND_TIMEOUT_MS,
    unavailableAfterMs: raw.unavailableAfter ?? defaults.DEFAULT_STORE_UNAVAILABLE_AFTER_MS,
    ...optional('fallbackReplicas', raw.fallbackReplicas),
    ...optional('url', raw.url),
    ...optional('sentinels', raw.sentinels),
    ...optional('name', raw.name),
    ...optional('sentinelUsername', raw.sentinelUsername),
    ...optional('sentinelPassword', raw.sentinelPassword),
    ...optional('cluster', raw.cluster),
    ...optional('username', raw.username),
    ...optional('password', raw.password),
    ...optional('tls', tls),
    ...optional('encryptionKey', raw.encryptionKey),
    ...optional('redis', raw.redis)
  }
}

/** Credentials in the URL and as store.username / store.password: one place only. */
function checkUrl (value: string, raw: RawStore, issues: ConfigIssue[], secrets: Set<string>): void {
  const url = safeUrl(value)
  if (url === undefined) {
    issues.push({ path: 'store.url', message: 'must be a redis:// or rediss:// URL' })
    return
  }
  if (url.password !== '') secrets.add(decodeURIComponent(url.password))
  if (url.username !== '' && raw.username !== undefined) issues.push({ path: 'store.username', message: 'also given in store.url: give it in one place' })
  if (url.password !== '' && raw.password !== undefined) issues.push({ path: 'store.password', message: 'also given in store.url: give it in one place (store.password is taken as it is, with no URL encoding)' })
}

/**
 * Each startup node is `redis://host:port` or `rediss://host:port`, all with
 * one scheme. Returns that scheme when there is one. tollgate tags each
 * upstream's keys `{<upstream>}` so that every script touches one slot; a
 * brace in the prefix would change the tag.
 */
function checkCluster (nodes: readonly string[], keyPrefix: string | undefined, issues: ConfigIssue[]): 'redis' | 'rediss' | undefined {
  const schemes = new Set<string>()
  nodes.forEach((node, index) => {
    const url = safeUrl(node)
    const scheme = NODE.exec(node)?.[1]
    if (url === undefined || scheme === undefined || url.port === '' || url.username !== '' || url.password !== '' || (url.pathname !== '' && url.pathname !== '/') || url.search !== '' || url.hash !== '') {
      issues.push({ path: `store.cluster[${index}]`, message: 'must be redis://host:port or rediss://host:port (credentials go in store.username and store.password)' })
      return
    }
    schemes.add(scheme)
  })
  if (keyPrefix !== undefined && /[{}]/.test(keyPrefix)) {
    issues.push({ path: 'store.keyPrefix', message: 'must not contain { or } with store.cluster: tollgate gives each upstream\'s keys the hash tag {<upstream>}, so that every script touches one slot' })
  }
  if (schemes.size > 1) {
    issues.push({ path: 'store.cluster', message: 'mixes redis:// and rediss:// nodes: one scheme for all' })
    return undefined
  }
  return [...schemes][0] as 'redis' | 'rediss' | undefined
}

/** `store.redis`: passed to ioredis as given, except what tollgate sets itself. Its secret-looking values join the log censor. */
function checkPassThrough (raw: RawStore, redis: Readonly<Record<string, unknown>>, issues: ConfigIssue[], secrets: Set<string>): void {
  collectSecrets(redis, secrets)
  // tollgate's own key, because the token wait and the limiter hold are derived from it; ioredis' would bypass them.
  if (Object.hasOwn(redis, 'commandTimeout')) {
    issues.push({ path: 'store.redis.commandTimeout', message: 'is not passed to ioredis: use store.commandTimeout (a duration, e.g. 2s)' })
  }
  // Sentinel mode is tollgate's to set up (failover detection, TLS to the sentinels): only store.sentinels is tested.
  if (Object.hasOwn(redis, 'sentinels')) {
    issues.push({ path: 'store.redis.sentinels', message: 'is not passed to ioredis: use store.sentinels (a list of host:port) and store.name' })
  }
  for (const [own, options] of OWN_OPTIONS) {
    if (raw[own] === undefined) continue
    for (const option of options) {
      if (Object.hasOwn(redis, option)) issues.push({ path: `store.redis.${option}`, message: `also set by store.${own}: give it in one place (store.${own})` })
    }
  }
  const url = raw.url === undefined ? undefined : safeUrl(raw.url)
  for (const part of ['username', 'password'] as const) {
    if (url !== undefined && url[part] !== '' && raw[part] === undefined && Object.hasOwn(redis, part)) {
      issues.push({ path: `store.redis.${part}`, message: `also given in store.url: give it in one place (store.${part})` })
    }
  }
}
