/**
 * What a config reload may change at once and what needs a restart. Live:
 * `upstreams.*`, `server.allow`, `server.inboundToken`, `server.bodyLimit`,
 * `server.shutdownGrace`, `log.level`. Everything else is the listener's
 * (`server.host`, `port`, `adminPort`, `headersTimeout`, `bodyTimeout`),
 * the store's connection (`store.*`), the log's destination (`log.format`)
 * or a section a reload does not rebuild (`telemetry`, and any section added
 * later): a change there is reported by its path and the running value stays
 * in force until a restart, as nginx keeps its listen sockets across a
 * reload. Paths are in the config file's terms (`server.headersTimeout`,
 * not `headersTimeoutMs`), so an operator can find them in the file.
 */
import type { ConfigIssue } from './issues.js'
import type { Config, ServerConfig, UpstreamConfig } from './types.js'
import { isLoopback } from './validate.js'

/** Fields a reload takes up for new requests at once. */
const LIVE_SERVER = new Set(['allow', 'inboundToken', 'bodyLimit', 'shutdownGraceMs'])
const LIVE_LOG = new Set(['level'])

export interface ReloadPlan {
  /** The config to run: `next`, with every restart-needed field kept as it runs now. */
  readonly config: Config
  /** Paths whose new value waits for a restart, sorted. */
  readonly restartNeeded: readonly string[]
  /** Why the plan cannot run at all (then the reload is rejected whole). */
  readonly problems: readonly ConfigIssue[]
}

/**
 * `next` as it can be applied over `current`. With `sharedWindow` (a store
 * whose windows every replica shares), an upstream's `rateLimit.requests`
 * and `rateLimit.window` are restart-needed too: the shared window is sized
 * by every replica alike, so one replica must not resize it alone.
 */
export function planReload (current: Config, next: Config, options: { sharedWindow?: boolean } = {}): ReloadPlan {
  const restartNeeded: string[] = []
  const merged: Record<string, unknown> = {}
  const sections = new Set([...Object.keys(current), ...Object.keys(next)])
  for (const section of sections) {
    const now = (current as unknown as Record<string, unknown>)[section]
    const then = (next as unknown as Record<string, unknown>)[section]
    if (section === 'upstreams' || section === 'secrets') {
      merged[section] = then
    } else if (section === 'server' || section === 'log') {
      merged[section] = mergeFields(now as Record<string, unknown>, then as Record<string, unknown>, section === 'server' ? LIVE_SERVER : LIVE_LOG, section, restartNeeded)
    } else if (same(now, then)) {
      merged[section] = then
    } else {
      // A whole section a reload does not rebuild (store, telemetry): its changed leaves are named.
      restartNeeded.push(...changedPaths(now, then, section))
      merged[section] = now
    }
  }
  if (options.sharedWindow === true) merged.upstreams = next.upstreams.map((upstream) => keepWindowSize(upstream, current, restartNeeded))
  // Old secrets stay known: a restart-needed field keeps its old value (a store password), and the censor only ever grows.
  merged.secrets = [...new Set([...next.secrets, ...current.secrets])].sort((a, b) => b.length - a.length)
  return { config: Object.freeze(merged) as unknown as Config, restartNeeded: [...new Set(restartNeeded)].sort(), problems: openProxy(merged.server as ServerConfig) }
}

/**
 * The file was checked whole, but the mix is new: a file that moves
 * server.host to loopback and drops server.allow would leave the running,
 * non-loopback listener open to anyone (the check validate.ts makes).
 */
function openProxy (server: ServerConfig): ConfigIssue[] {
  if (isLoopback(server.host) || server.allow.length > 0 || server.inboundToken !== undefined) return []
  return [{ path: 'server.allow', message: 'the running server.host is not a loopback address (a new host needs a restart): keep server.allow or server.inboundToken until then' }]
}

/**
 * The paths a flag or a TOLLGATE_* variable hides: changed in the file
 * between `before` and `after`, but overridden (`applied`, as
 * applyOverrides words it: `server.port from --port`), so the running value
 * does not move.
 */
export function overriddenChanges (before: Config, after: Config, applied: readonly string[]): string[] {
  const paths: string[] = []
  for (const entry of applied) {
    const path = entry.split(' from ')[0] as string
    const read = (config: Config): unknown => path.split('.').reduce<unknown>((node, key) => (node !== null && typeof node === 'object' ? (node as Record<string, unknown>)[key] ?? (node as Record<string, unknown>)[`${key}Ms`] : undefined), config)
    if (!same(read(before), read(after))) paths.push(path)
  }
  return paths
}

/** Two configs (or parts) alike, Sets compared as sets and object keys in any order. */
export function same (a: unknown, b: unknown): boolean {
  return canonical(a) === canonical(b)
}

/** JSON with sorted keys and Sets as sorted arrays: one text per value. Compared and hashed, never logged. */
export function canonical (value: unknown): string {
  return JSON.stringify(value, (_key, item: unknown) => {
    if (item instanceof Set) return [...(item as Set<unknown>)].map(String).sort()
    if (item === Infinity) return 'Infinity'
    if (item !== null && typeof item === 'object' && !Array.isArray(item)) {
      return Object.fromEntries(Object.entries(item).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)))
    }
    return item
  }) ?? 'undefined'
}

function mergeFields (now: Record<string, unknown>, then: Record<string, unknown>, live: ReadonlySet<string>, section: string, restartNeeded: string[]): Record<string, unknown> {
  const merged: Record<string, unknown> = {}
  for (const key of new Set([...Object.keys(now), ...Object.keys(then)])) {
    const value = live.has(key) ? then[key] : now[key]
    if (!live.has(key) && !same(now[key], then[key])) restartNeeded.push(`${section}.${fileName(key)}`)
    if (value !== undefined) merged[key] = value
  }
  return merged
}

/** An upstream of `next` with the window size it runs with now (same name), and what that holds back. */
function keepWindowSize (upstream: UpstreamConfig, current: Config, restartNeeded: string[]): UpstreamConfig {
  const running = current.upstreams.find((candidate) => candidate.name === upstream.name)
  if (running === undefined) return upstream
  const path = `upstreams.${upstream.name}.rateLimit`
  const [before, after] = [running.rateLimit, upstream.rateLimit]
  if (before === undefined && after === undefined) return upstream
  if (before === undefined || after === undefined) {
    restartNeeded.push(path)
    const { rateLimit: _dropped, ...rest } = upstream
    return before === undefined ? rest : { ...rest, rateLimit: before }
  }
  if (before.requests === after.requests && before.windowMs === after.windowMs) return upstream
  if (before.requests !== after.requests) restartNeeded.push(`${path}.requests`)
  if (before.windowMs !== after.windowMs) restartNeeded.push(`${path}.window`)
  return { ...upstream, rateLimit: { ...after, requests: before.requests, windowMs: before.windowMs } }
}

/** Leaf paths where `a` and `b` differ, under `path`. */
function changedPaths (a: unknown, b: unknown, path: string): string[] {
  if (same(a, b)) return []
  if (!isRecord(a) || !isRecord(b)) return [path]
  return [...new Set([...Object.keys(a), ...Object.keys(b)])].flatMap((key) => changedPaths(a[key], b[key], `${path}.${fileName(key)}`))
}

function isRecord (value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value) && !(value instanceof Set)
}

/** `headersTimeoutMs` → `headersTimeout`: resolved durations carry Ms, the file does not. */
function fileName (key: string): string {
  return key.endsWith('Ms') ? key.slice(0, -2) : key
}
