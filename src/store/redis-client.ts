/**
 * The Redis connection shared by every limiter and token source of one
 * sidecar: one command client, one subscriber, and the answer to "may I use
 * the shared store right now?".
 *
 * Failure handling is built for a sidecar on the request path, not for a
 * cache that may take its time:
 * - `enableOfflineQueue: false` and `maxRetriesPerRequest: 0`: a command
 *   issued while Redis is away fails at once, and commands in flight when the
 *   connection drops are rejected at the drop (ioredis would otherwise hold
 *   them until a reconnect, and a request would hang on them).
 * - `store.commandTimeout` (1 s): a command unanswered that long has failed,
 *   and its request alone is handled as `onUnavailable` says. One slow command
 *   is not a lost store (issue 14, "slow is not down"): the store is declared
 *   lost when the connection drops, or when commands have failed for
 *   `store.unavailableAfter` (3 s) without a success (store-health.ts). Then
 *   the connection is dropped and re-established (one that went half-open,
 *   say to a Redis host that died, would otherwise never notice).
 * - From the first failure until it is settled again, a PING every 250 ms
 *   keeps the evidence coming whatever the traffic; after an outage, the store
 *   is back once Redis has answered for 1 s without a failure. Each flip is
 *   logged once (warn lost, info back) and counted (`outages`).
 * - `retryStrategy`: reconnect for ever, 50 ms doubling to 2 s, jittered so
 *   that a fleet of replicas does not reconnect in step. Shared state resumes
 *   a second after the 'ready' that follows, without a restart.
 * - The subscriber keeps ioredis' defaults (offline queue, resubscribe on
 *   reconnect): it issues SUBSCRIBE and nothing else.
 * Standalone, Sentinel or Cluster, credentials and TLS: redis-connect.ts.
 * Other ioredis options can still be set through `store.redis`;
 * docs/scaling.md says which of the above must not be undone.
 */
import type { EventEmitter } from 'node:events'
import { randomBytes } from 'node:crypto'
import { Cluster, type RedisOptions } from 'ioredis'
import type { StoreConfig } from '../config/types.js'
import { createRedisClients, explainConnectError, hostAndPort, redisPasswords, type MovedPrimaries, type RedisClient } from './redis-connect.js'
import { SentinelWatch } from './sentinel-watch.js'
import { defineScript, type Script } from './scripts.js'
import { StoreHealth, type Flip } from './store-health.js'

/** The part of a pino logger the store uses. */
export interface StoreLog {
  info (obj: object, msg: string): void
  warn (obj: object, msg: string): void
  debug? (obj: object, msg: string): void
}

/** How long a TCP connect to Redis may take. */
export const CONNECT_TIMEOUT_MS = 2000
/** Reconnect delays: RETRY_BASE_MS doubling up to RETRY_MAX_MS, plus up to RETRY_JITTER_MS. */
const RETRY_BASE_MS = 50
const RETRY_MAX_MS = 2000
const RETRY_JITTER_MS = 100
/** After an error answer (not a lost connection), the store is left alone this long. */
const COOL_DOWN_MS = 1000
/** While commands fail or the store is lost, Redis is asked PING this often. */
const PROBE_EVERY_MS = 250
/** After an outage, Redis must answer this long without a failure before the store is used again. */
const RECOVER_AFTER_MS = 1000
/** Sentinel said a failover began, and has not said how it ended: at the latest after this, ask the sentinels again. */
const FAILOVER_MAX_MS = 15_000

export type StoreMessage =
  | { readonly t: 'pause', readonly k: string, readonly ms: number, readonly from: string }
  | { readonly t: 'token' | 'invalidate', readonly k: string, readonly id: string }

export interface StoreStatus {
  readonly type: 'memory' | 'redis'
  /** Whether shared state is in use right now (always false for memory). */
  readonly available: boolean
  readonly onUnavailable: 'local' | 'fail'
  /** Times the store was declared lost since start (connection dropped, or commands failing for unavailableAfter). */
  readonly outages: number
  /** Epoch ms the current outage began, when there is one. */
  readonly unavailableSince?: number
  /** Live replicas on the store (the most seen in the last heartbeats), the fallback share's divisor; absent until first seen. */
  readonly replicasSeen?: number
}

export interface ConnectionDeps {
  /** Monotonic ms, for the health timing (store-health.ts). */
  readonly now?: () => number
}

/**
 * ioredis options tollgate relies on. `overrides` (store.redis) win: an
 * operator who needs another connect timeout or TLS setting can have it.
 * Except `commandTimeout`: it is `store.commandTimeout`, because the token
 * wait and the limiter hold are derived from it (validate.ts refuses
 * `store.redis.commandTimeout`).
 */
export function redisOptions (overrides: Readonly<Record<string, unknown>> | undefined, commandTimeoutMs: number): RedisOptions {
  return {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    connectTimeout: CONNECT_TIMEOUT_MS,
    // disconnect() arms a timer (2 s by default) that only a later 'close' clears; on a socket
    // that is already closed (Redis gone) it would hold the process open on shutdown that long.
    disconnectTimeout: 200,
    retryStrategy: (attempt: number) => Math.min(RETRY_BASE_MS * 2 ** Math.min(attempt - 1, 10), RETRY_MAX_MS) + Math.floor(Math.random() * RETRY_JITTER_MS),
    // A copy: the resolved config is frozen, and ioredis may write to nested option objects.
    ...(overrides === undefined ? {} : structuredClone(overrides) as RedisOptions),
    commandTimeout: commandTimeoutMs
  }
}

export class RedisConnection {
  /** Tells this replica's writes apart from the others' (member names, pub/sub echoes). */
  readonly replicaId = randomBytes(6).toString('base64url')
  readonly keyPrefix: string
  /** The one pub/sub channel of a deployment: pauses, new tokens, invalidations. */
  readonly channel: string
  readonly onUnavailable: 'local' | 'fail'
  /** store.commandTimeout: the bound of one command, and so of every wait derived from it. */
  readonly commandTimeoutMs: number
  readonly client: RedisClient
  readonly #subscriber: RedisClient
  readonly #log: StoreLog | undefined
  readonly #readyListeners = new Set<() => void>()
  readonly #lostListeners = new Set<() => void>()
  readonly #subscribedListeners = new Set<() => void>()
  readonly #messageListeners = new Set<(message: StoreMessage) => void>()
  readonly #health: StoreHealth
  #downSince: number | undefined = Date.now()
  #outages = 0
  /** Monotonic ms until which the store is left alone after an error answer; undefined when it is not. */
  #coolUntil: number | undefined
  /** Monotonic ms (deps.now): the health timing and the cool-down, never the wall clock. */
  readonly #now: () => number
  #closing = false
  #probe: NodeJS.Timeout | undefined
  /** Set once start() has returned: later connections are reported in the log. */
  #started = false
  /** The last connection error's message, for the startup failure. */
  #lastError: string | undefined
  /** Every password of the connection: cut out of any message passed on. */
  readonly #passwords: readonly string[]
  readonly #config: StoreConfig
  /** With Sentinel: the sentinels' own word on failovers (sentinel-watch.ts). */
  readonly #sentinels: SentinelWatch | undefined
  /** Set while Sentinel fails the primary over: the store stays unused until the new primary is known. */
  #failingOver: NodeJS.Timeout | undefined
  /** Primaries Sentinel switched away from, and where to (redis-connect.ts); the last switch's new primary. */
  readonly #moved: MovedPrimaries = new Map()
  #switchedTo: string | undefined

  constructor (config: StoreConfig, log: StoreLog | undefined, deps: ConnectionDeps = {}) {
    this.keyPrefix = config.keyPrefix
    this.channel = `${config.keyPrefix}events`
    this.onUnavailable = config.onUnavailable
    this.commandTimeoutMs = config.commandTimeoutMs
    this.#log = log
    this.#config = config
    this.#passwords = redisPasswords(config)
    this.#now = deps.now ?? (() => performance.now())
    this.#health = new StoreHealth({ unavailableAfterMs: config.unavailableAfterMs, recoverAfterMs: RECOVER_AFTER_MS, now: this.#now })
    const { client, subscriber, sentinelWatch } = createRedisClients(config, redisOptions(config.redis, config.commandTimeoutMs), this.#moved)
    this.#sentinels = sentinelWatch === undefined
      ? undefined
      : new SentinelWatch({ ...sentinelWatch, onFailover: () => this.#failover(), onSwitch: (from, to) => this.#switched(from, to), onAbort: () => this.#aborted() })
    this.client = client
    this.#subscriber = subscriber
    this.client.on('ready', () => this.#ready())
    this.client.on('close', () => this.#apply(this.#health.dropped()))
    // Without a listener an 'error' event would crash the process; the outage itself is logged by #apply, once.
    this.client.on('error', (err: Error) => this.#connectError(err))
    // A Cluster reports each node's connection errors apart.
    this.client.on('node error', (err: Error) => this.#connectError(err))
    this.#subscriber.on('error', () => {})
    for (const each of [this.client, this.#subscriber]) guardSocket(each)
    this.#subscriber.on('message', (_channel: string, raw: string) => this.#message(raw))
    // Subscribed on each (re)connection of the subscriber, the first included: once that is confirmed, later
    // messages come in, and what was published while it was away (a pause another replica wrote back as Redis
    // returned) is read by the listeners.
    this.#subscriber.on('ready', () => {
      this.#subscriber.subscribe(this.channel).then(() => { for (const listener of this.#subscribedListeners) listener() }, () => {})
    })
  }

  /**
   * True while the shared store can be used: not declared lost, and not
   * cooling down after an error answer. Commands failing (but not yet for
   * unavailableAfter) leave it true: each request whose command fails is
   * handled alone.
   */
  get available (): boolean {
    return this.#health.up && (this.#coolUntil === undefined || this.#now() >= this.#coolUntil)
  }

  /**
   * The first connection. Resolves with no reason when Redis answered; with
   * why not when it did not (ioredis keeps trying in the background).
   */
  async start (): Promise<{ readonly ok: true } | { readonly ok: false, readonly reason: string }> {
    // With Sentinel, connect() does not settle while no sentinel answers (ioredis starts over from the first one):
    // the first error is the answer at startup.
    let onError: (err: Error) => void = () => {}
    const failed = new Promise<never>((_resolve, reject) => { onError = reject })
    this.client.once('error', onError)
    const connecting = this.client.connect()
    connecting.catch(() => {})
    try {
      await Promise.race([connecting, failed])
      return { ok: true }
    } catch (err) {
      return { ok: false, reason: this.#lastError ?? this.#clean((err as Error).message) }
    } finally {
      this.client.off('error', onError)
      this.#started = true
    }
  }

  /** Called when shared state can be used again: the first connection, and the end of each outage. Returns the unsubscribe function. */
  onReady (listener: () => void): () => void {
    this.#readyListeners.add(listener)
    return () => this.#readyListeners.delete(listener)
  }

  /** Called once per outage, when shared state stops being usable. */
  onLost (listener: () => void): () => void {
    this.#lostListeners.add(listener)
    return () => this.#lostListeners.delete(listener)
  }

  /** Called each time the subscriber is (again) subscribed: messages from now on arrive; those before may have been missed. */
  onSubscribed (listener: () => void): () => void {
    this.#subscribedListeners.add(listener)
    return () => this.#subscribedListeners.delete(listener)
  }

  onMessage (listener: (message: StoreMessage) => void): () => void {
    this.#messageListeners.add(listener)
    return () => this.#messageListeners.delete(listener)
  }

  /**
   * A command failed; the caller handles its request alone, as
   * `onUnavailable` says. An error answer (OOM, READONLY, a script error) sets
   * the store aside for a moment rather than retrying it on every request.
   * Anything else (a timeout, a command that could not be sent) counts
   * towards a lost store: when failures have gone on for unavailableAfter
   * without a success, it is declared lost and the connection is rebuilt.
   */
  failed (err: unknown, what: string): void {
    if (this.#closing) return
    const message = this.#clean((err as Error | undefined)?.message ?? String(err))
    if ((err as Error | undefined)?.name === 'ReplyError') {
      this.#log?.warn({ what, err: { message } }, 'shared store refused a command')
      this.#coolUntil = this.#now() + COOL_DOWN_MS
      return
    }
    if (this.#health.settled) {
      // Once per row of failures: the first sign of a slow or silent Redis.
      this.#log?.warn({ what, err: { message } }, 'shared store command failed: handled for its request alone; the store is lost only if failures go on for store.unavailableAfter')
    } else {
      this.#log?.debug?.({ what, err: { message } }, 'shared store command failed')
    }
    this.#fail()
  }

  /**
   * A command was answered. `script()` reports its own; a caller that uses
   * `client` directly may report its answers here (the probe makes sure the
   * health is known without them).
   */
  succeeded (): void {
    // While Sentinel fails over, an answer comes from the old primary: it proves nothing.
    if (this.#health.settled || this.#failingOver !== undefined) return
    this.#apply(this.#health.succeeded())
  }

  /**
   * A Lua script as a function on the command client. Its outcomes feed the
   * connection's health, both ways: an answer is a success, a rejection is
   * recorded here (callers do not call `failed` again) and still reaches the
   * caller, who handles that one request as `onUnavailable` says.
   */
  script (name: string, numberOfKeys: number, lua: string): Script {
    const run = defineScript(this.client, name, numberOfKeys, lua)
    return async (keys, args) => {
      let reply: unknown
      try {
        reply = await run(keys, args)
      } catch (err) {
        this.failed(err, name)
        throw err
      }
      this.succeeded()
      return reply
    }
  }

  /** Best effort: pub/sub is a hint (a replica that misses one learns from the store on its next call). */
  publish (message: StoreMessage): void {
    if (!this.available) return
    this.client.publish(this.channel, JSON.stringify(message)).catch((err: unknown) => this.failed(err, 'publish'))
  }

  status (): StoreStatus {
    const status = { type: 'redis' as const, available: this.available, onUnavailable: this.onUnavailable, outages: this.#outages }
    return this.#downSince === undefined ? status : { ...status, unavailableSince: this.#downSince }
  }

  async close (): Promise<void> {
    this.#closing = true
    this.#stopProbe()
    this.#sentinels?.close()
    clearTimeout(this.#failingOver)
    this.#readyListeners.clear()
    this.#lostListeners.clear()
    this.#messageListeners.clear()
    await Promise.all([quit(this.client), quit(this.#subscriber)])
  }

  /**
   * Sentinel is about to promote a replica: what is written to this primary
   * from then on may be lost, so the store is lost now (under fail, 503; under
   * local, this replica's share), until the switch.
   */
  #failover (): void {
    if (this.#closing) return
    clearTimeout(this.#failingOver)
    this.#failingOver = setTimeout(() => {
      // No word of how it ended: ask the sentinels again.
      this.#aborted()
      dropConnection(this.client)
      dropConnection(this.#subscriber)
    }, FAILOVER_MAX_MS)
    this.#failingOver.unref()
    this.#log?.info({}, 'Sentinel is failing the primary over: the shared store is not used until the new primary is known')
    this.#apply(this.#health.dropped())
  }

  /**
   * The new primary is known: reconnect to it. Each sentinel announces the
   * switch as it learns of it; the first announcement moves the connections,
   * the later ones find them moved already.
   */
  #switched (from: string, to: string): void {
    this.#aborted()
    if (this.#closing || to === this.#switchedTo) return
    this.#switchedTo = to
    this.#moved.delete(to)
    this.#moved.set(from, hostAndPort(to))
    for (const client of [this.client, this.#subscriber]) {
      dropConnection(client)
      // Waiting to retry a primary that died: try the new one now (ioredis' own retry then finds it connected).
      if (client.status === 'reconnecting') client.connect().catch(() => {})
    }
  }

  /** The failover is over (or never happened): the probe brings the store back once the primary answers. */
  #aborted (): void {
    clearTimeout(this.#failingOver)
    this.#failingOver = undefined
  }

  /** ioredis messages do not quote the password; this makes sure of it. */
  #clean (message: string): string {
    let clean = message
    for (const password of this.#passwords) clean = clean.split(password).join('***')
    return clean
  }

  /** Kept, with the field to fix when the config is the cause, for the startup failure. */
  #connectError (err: Error): void {
    this.#lastError = this.#clean(explainConnectError(err, this.#config))
    this.#log?.debug?.({ err: { message: this.#lastError } }, 'shared store connection error')
  }

  /** ioredis connected (and its ready check passed). The first time, the store is up at once; after an outage, once Redis has answered for a second. */
  #ready (): void {
    this.#coolUntil = undefined
    if (this.#outages === 0) this.#apply(this.#health.connected())
    else this.#startProbe()
  }

  #fail (): void {
    this.#apply(this.#health.failed())
    if (!this.#health.settled) this.#startProbe()
  }

  /** Acts on a flip of the health: once per flip, one log line, the listeners, and the counter. */
  #apply (flip: Flip): void {
    if (flip === undefined || this.#closing) return
    if (flip === 'lost') {
      this.#downSince = Date.now()
      this.#outages++
      this.#log?.warn({ onUnavailable: this.onUnavailable }, this.onUnavailable === 'fail'
        ? 'shared store unavailable: requests that need it get 503 TG_STORE_UNAVAILABLE until it returns'
        : 'shared store unavailable: limits and tokens fall back to this process alone until it returns')
      for (const listener of this.#lostListeners) listener()
      // Commands failed for unavailableAfter on a connection that looks open: rebuild it (once per socket; a no-op when it already dropped).
      dropConnection(this.client)
      return
    }
    const wasOut = this.#downSince === undefined ? 0 : Date.now() - this.#downSince
    this.#downSince = undefined
    this.#stopProbe()
    // The first connection is reported by the store's startup line.
    if (this.#started) this.#log?.info({ unavailableMs: wasOut }, 'shared store available again: limits and tokens are shared')
    for (const listener of this.#readyListeners) listener()
  }

  /** PING every PROBE_EVERY_MS while in doubt, each on its own (a silent Redis shows as a failure per tick, not per timeout). */
  #startProbe (): void {
    if (this.#probe !== undefined || this.#closing) return
    this.#probe = setInterval(() => this.#ping(), PROBE_EVERY_MS)
    this.#probe.unref()
    this.#ping()
  }

  #stopProbe (): void {
    clearInterval(this.#probe)
    this.#probe = undefined
  }

  #ping (): void {
    if (this.#health.settled) {
      this.#stopProbe()
      return
    }
    // Reconnecting: 'ready' restarts the count; a PING now could only fail at once.
    if (this.client.status !== 'ready') return
    this.client.ping().then(() => this.succeeded(), (err: unknown) => {
      if (this.#closing) return
      this.#log?.debug?.({ err: { message: this.#clean((err as Error).message) } }, 'shared store probe failed')
      this.#fail()
    })
  }

  #message (raw: string): void {
    let message: StoreMessage
    try {
      message = JSON.parse(raw) as StoreMessage
    } catch {
      return
    }
    if (typeof message !== 'object' || message === null || typeof message.k !== 'string') return
    for (const listener of this.#messageListeners) listener(message)
  }
}

/**
 * ioredis listens for its socket's first 'error' only (once): a TLS socket
 * that is refused after its handshake (Redis asks for a client certificate
 * and none is set) reports the alert, then the reset, and that second error
 * had no listener: an uncaught exception in the process. Each socket, once
 * connected, gets a listener that only swallows: ioredis' own handling of
 * the first error and of the 'close' that follows is unchanged.
 */
function guardSocket (client: RedisClient): void {
  if (client instanceof Cluster) return
  client.on('connect', () => { (client.stream as EventEmitter | undefined)?.on('error', noop) })
}

function noop (): void {}

/** Sockets dropConnection has asked ioredis to close (weakly held: a closed socket is not kept). */
const dropping = new WeakSet<object>()

/**
 * Close a connected client's socket so that ioredis connects again: at most
 * once per socket, however often it is asked. ioredis' disconnect() adds a
 * 'close' listener and a timer to the socket on every call
 * (connectors/AbstractConnector.js; redis/ioredis#1792, open), and a socket
 * to a Redis that answers nothing stays open until disconnectTimeout ends it.
 * A drop per timed-out command (as before c0b7d69) was a listener per
 * request: "11 close listeners added to [Socket]" (issue 14 part 8).
 */
export function dropConnection (client: RedisClient): void {
  // A Cluster leaves 'ready' at once on disconnect: the status alone makes it once per connection.
  if (client instanceof Cluster) {
    if (client.status === 'ready') client.disconnect(true)
    return
  }
  const socket = client.stream as object | undefined
  if (client.status !== 'ready' || socket === undefined || dropping.has(socket)) return
  dropping.add(socket)
  client.disconnect(true)
}

/** QUIT when connected (lets replies in flight arrive), else just drop the socket; never hang a shutdown on Redis. */
async function quit (client: RedisClient): Promise<void> {
  if (client.status !== 'ready') {
    client.disconnect()
    return
  }
  let timer: NodeJS.Timeout | undefined
  await Promise.race([
    client.quit().catch(() => {}),
    new Promise<void>((resolve) => { timer = setTimeout(resolve, 500) })
  ])
  clearTimeout(timer)
  client.disconnect()
}
