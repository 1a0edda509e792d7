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
 * - `commandTimeout`: a Redis that accepts connections but does not answer
 *   (stopped, swapping) fails commands after a second; the connection is then
 *   dropped and re-established, and is unavailable until Redis answers its
 *   ready check again.
 * - `retryStrategy`: reconnect for ever, 50 ms doubling to 2 s, jittered so
 *   that a fleet of replicas does not reconnect in step. Shared state resumes
 *   on the 'ready' that follows, without a restart.
 * - The subscriber keeps ioredis' defaults (offline queue, resubscribe on
 *   reconnect): it issues SUBSCRIBE and nothing else.
 * Every ioredis option can still be set through `store.redis` (Sentinel, TLS
 * details, ...); docs/scaling.md says which of the above must not be undone.
 */
import { randomBytes } from 'node:crypto'
import { Redis, type RedisOptions } from 'ioredis'
import type { StoreConfig } from '../config/types.js'
import { defineScript, type Script } from './scripts.js'

/** The part of a pino logger the store uses. */
export interface StoreLog {
  info (obj: object, msg: string): void
  warn (obj: object, msg: string): void
  debug? (obj: object, msg: string): void
}

/** A command (or script) that takes no longer than this is assumed lost: Redis is treated as away. */
export const COMMAND_TIMEOUT_MS = 1000
/** How long a TCP connect to Redis may take. */
export const CONNECT_TIMEOUT_MS = 2000
/** Reconnect delays: RETRY_BASE_MS doubling up to RETRY_MAX_MS, plus up to RETRY_JITTER_MS. */
const RETRY_BASE_MS = 50
const RETRY_MAX_MS = 2000
const RETRY_JITTER_MS = 100
/** After an error answer (not a lost connection), the store is left alone this long. */
const COOL_DOWN_MS = 1000

export type StoreMessage =
  | { readonly t: 'pause', readonly k: string, readonly ms: number, readonly from: string }
  | { readonly t: 'token' | 'invalidate', readonly k: string, readonly id: string }

export interface StoreStatus {
  readonly type: 'memory' | 'redis'
  /** Whether shared state is in use right now (always false for memory). */
  readonly available: boolean
  readonly onUnavailable: 'local' | 'fail'
  /** Connection losses since start. */
  readonly outages: number
  /** Epoch ms the current outage began, when there is one. */
  readonly unavailableSince?: number
}

/**
 * ioredis options tollgate relies on. `overrides` (store.redis) win: an
 * operator who needs another connect timeout or TLS setting can have it.
 */
export function redisOptions (overrides: Readonly<Record<string, unknown>> | undefined): RedisOptions {
  return {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    commandTimeout: COMMAND_TIMEOUT_MS,
    connectTimeout: CONNECT_TIMEOUT_MS,
    // disconnect() arms a timer (2 s by default) that only a later 'close' clears; on a socket
    // that is already closed (Redis gone) it would hold the process open on shutdown that long.
    disconnectTimeout: 200,
    retryStrategy: (attempt: number) => Math.min(RETRY_BASE_MS * 2 ** Math.min(attempt - 1, 10), RETRY_MAX_MS) + Math.floor(Math.random() * RETRY_JITTER_MS),
    // A copy: the resolved config is frozen, and ioredis may write to nested option objects.
    ...(overrides === undefined ? {} : structuredClone(overrides) as RedisOptions)
  }
}

export class RedisConnection {
  /** Tells this replica's writes apart from the others' (member names, pub/sub echoes). */
  readonly replicaId = randomBytes(6).toString('base64url')
  readonly keyPrefix: string
  /** The one pub/sub channel of a deployment: pauses, new tokens, invalidations. */
  readonly channel: string
  readonly onUnavailable: 'local' | 'fail'
  readonly client: Redis
  readonly #subscriber: Redis
  readonly #log: StoreLog | undefined
  readonly #readyListeners = new Set<() => void>()
  readonly #lostListeners = new Set<() => void>()
  readonly #messageListeners = new Set<(message: StoreMessage) => void>()
  #down = true
  #downSince: number | undefined = Date.now()
  #outages = 0
  #coolUntil = 0
  #closing = false
  /** Set once start() has returned: later connections are reported in the log. */
  #started = false
  /** The last connection error's message, for the startup failure. */
  #lastError: string | undefined
  readonly #password: string | undefined

  constructor (config: StoreConfig, log: StoreLog | undefined) {
    if (config.url === undefined) throw new TypeError("'store.url' is required for a redis store")
    this.keyPrefix = config.keyPrefix
    this.channel = `${config.keyPrefix}events`
    this.onUnavailable = config.onUnavailable
    this.#log = log
    this.#password = passwordOf(config.url)
    const options = redisOptions(config.redis)
    this.client = new Redis(config.url, options)
    this.#subscriber = new Redis(config.url, { ...options, enableOfflineQueue: true, maxRetriesPerRequest: null, commandTimeout: undefined, lazyConnect: false })
    this.client.on('ready', () => this.#ready())
    this.client.on('close', () => this.#lost())
    // Without a listener an 'error' event would crash the process; the outage itself is logged by #lost, once.
    this.client.on('error', (err: Error) => {
      this.#lastError = this.#clean(err.message)
      this.#log?.debug?.({ err: { message: this.#lastError } }, 'shared store connection error')
    })
    this.#subscriber.on('error', () => {})
    this.#subscriber.on('message', (_channel: string, raw: string) => this.#message(raw))
    this.#subscriber.subscribe(this.channel).catch(() => {})
  }

  /** True while the shared store can be used: connected, and not cooling down after an error answer. */
  get available (): boolean {
    return !this.#down && (this.#coolUntil === 0 || Date.now() >= this.#coolUntil)
  }

  /**
   * The first connection. Resolves with no reason when Redis answered; with
   * why not when it did not (ioredis keeps trying in the background).
   */
  async start (): Promise<{ readonly ok: true } | { readonly ok: false, readonly reason: string }> {
    try {
      await this.client.connect()
      return { ok: true }
    } catch (err) {
      return { ok: false, reason: this.#lastError ?? this.#clean((err as Error).message) }
    } finally {
      this.#started = true
    }
  }

  /** Called once per (re)connection, when shared state can be used again. Returns the unsubscribe function. */
  onReady (listener: () => void): () => void {
    this.#readyListeners.add(listener)
    return () => this.#readyListeners.delete(listener)
  }

  /** Called once per outage, when shared state stops being usable. */
  onLost (listener: () => void): () => void {
    this.#lostListeners.add(listener)
    return () => this.#lostListeners.delete(listener)
  }

  onMessage (listener: (message: StoreMessage) => void): () => void {
    this.#messageListeners.add(listener)
    return () => this.#messageListeners.delete(listener)
  }

  /**
   * A command failed. A lost connection is handled by the 'close' event; a
   * timeout means Redis is there but not answering, so the connection is
   * dropped and rebuilt; an error answer (OOM, a script error) sets the store
   * aside for a moment rather than retrying it on every request.
   */
  failed (err: unknown, what: string): void {
    if (this.#closing) return
    const message = (err as Error | undefined)?.message ?? String(err)
    if (message.includes('timed out')) {
      this.#log?.warn({ what, err: { message } }, 'shared store command timed out')
      this.#lost()
      this.client.disconnect(true)
    } else if ((err as Error | undefined)?.name === 'ReplyError') {
      this.#log?.warn({ what, err: { message } }, 'shared store refused a command')
      this.#coolUntil = Date.now() + COOL_DOWN_MS
    } else {
      this.#log?.debug?.({ what, err: { message } }, 'shared store command failed')
    }
  }

  /**
   * A Lua script as a function on the command client. Its outcomes feed the
   * connection's health: a rejection is recorded here (callers do not call
   * `failed` again) and still reaches the caller, who handles that one
   * request as `onUnavailable` says.
   */
  script (name: string, numberOfKeys: number, lua: string): Script {
    const run = defineScript(this.client, name, numberOfKeys, lua)
    return async (keys, args) => {
      try {
        return await run(keys, args)
      } catch (err) {
        this.failed(err, name)
        throw err
      }
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
    this.#readyListeners.clear()
    this.#lostListeners.clear()
    this.#messageListeners.clear()
    await Promise.all([quit(this.client), quit(this.#subscriber)])
  }

  /** ioredis messages do not quote the password; this makes sure of it. */
  #clean (message: string): string {
    return this.#password === undefined ? message : message.split(this.#password).join('***')
  }

  #ready (): void {
    this.#coolUntil = 0
    if (!this.#down) return
    const wasOut = this.#downSince === undefined ? 0 : Date.now() - this.#downSince
    this.#down = false
    this.#downSince = undefined
    // The first connection is reported by the store's startup line.
    if (this.#started) this.#log?.info({ unavailableMs: wasOut }, 'shared store available again: limits and tokens are shared')
    for (const listener of this.#readyListeners) listener()
  }

  #lost (): void {
    if (this.#down || this.#closing) return
    this.#down = true
    this.#downSince = Date.now()
    this.#outages++
    this.#log?.warn({ onUnavailable: this.onUnavailable }, this.onUnavailable === 'fail'
      ? 'shared store unavailable: requests that need it get 503 TG_STORE_UNAVAILABLE until it returns'
      : 'shared store unavailable: limits and tokens fall back to this process alone until it returns')
    for (const listener of this.#lostListeners) listener()
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

function passwordOf (url: string): string | undefined {
  try {
    const password = decodeURIComponent(new URL(url).password)
    return password === '' ? undefined : password
  } catch {
    return undefined
  }
}

/** QUIT when connected (lets replies in flight arrive), else just drop the socket; never hang a shutdown on Redis. */
async function quit (client: Redis): Promise<void> {
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
