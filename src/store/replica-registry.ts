/**
 * Who shares the store. Every replica announces itself each HEARTBEAT_MS in
 * one sorted set, `<prefix>replicas` (one key, so one Cluster slot): member
 * `<replica id> <limits>`, score = Redis time; the same script prunes members
 * older than three heartbeats and returns the live ones. From them each
 * replica learns:
 *
 * - the shared limits of each upstream: the smallest `requests` and the
 *   longest `window` any live replica uses, so a rolling config change never
 *   lets the higher N win (the old members age out three heartbeats after
 *   their replica changed or left);
 * - k, the most live replicas (distinct ids) seen in the last three
 *   heartbeats, itself included: the divisor of its fallback share
 *   (fallback-share.ts). During an outage no heartbeat is answered, so k is
 *   what was seen just before it.
 */
import type { Divisor } from './fallback-share.js'
import type { RedisConnection } from './redis-client.js'
import type { Script } from './scripts.js'

export const HEARTBEAT_MS = 1000
/** A member is live for this many heartbeats, and k is the most seen over as many. */
const LIVE_BEATS = 3

/** KEYS: the set. ARGV: member, live ms. Returns the live members. */
const HEARTBEAT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local live = tonumber(ARGV[2])
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - live)
redis.call('PEXPIRE', KEYS[1], live * 2)
return redis.call('ZRANGE', KEYS[1], 0, -1)
`

export interface WindowLimits {
  readonly requests: number
  readonly windowMs: number
}

export class ReplicaRegistry {
  readonly #conn: RedisConnection
  readonly #key: string
  readonly #beat: Script
  readonly #fallbackReplicas: number | undefined
  /** This replica's limits per upstream with a window: name → [requests, windowMs]. */
  readonly #limits: Record<string, [number, number]> = {}
  #member: string
  /** Live replicas counted by the last LIVE_BEATS heartbeats, newest last. */
  #seen: number[] = []
  #shared = new Map<string, WindowLimits>()
  #timer: NodeJS.Timeout | undefined
  #beating = false
  /** A heartbeat was asked for while one was under way: another follows it. */
  #again = false

  constructor (connection: RedisConnection, fallbackReplicas: number | undefined) {
    this.#conn = connection
    this.#key = `${connection.keyPrefix}replicas`
    this.#beat = connection.script('tollgateReplicaHeartbeat', 1, HEARTBEAT)
    this.#fallbackReplicas = fallbackReplicas
    this.#member = this.#memberName()
  }

  /** An upstream's own limits, published from the next heartbeat on. */
  publish (upstream: string, limits: WindowLimits): void {
    this.#limits[upstream] = [limits.requests, limits.windowMs]
    this.#member = this.#memberName()
    // Published now rather than at the next heartbeat: the others must not use a higher N meanwhile.
    if (this.#timer !== undefined) this.beat()
  }

  start (): void {
    if (this.#timer !== undefined) return
    // Unref'd: the heartbeat never keeps a closing process alive.
    this.#timer = setInterval(() => { this.beat() }, HEARTBEAT_MS).unref()
    this.beat()
  }

  /** One heartbeat now (skipped while the store is away or one is under way). */
  beat (): void {
    if (!this.#conn.available) return
    if (this.#beating) {
      this.#again = true
      return
    }
    this.#beating = true
    this.#beat([this.#key], [this.#member, LIVE_BEATS * HEARTBEAT_MS])
      .then((members) => { this.#learn(members as string[]) }, () => {})
      .finally(() => {
        this.#beating = false
        if (this.#again) {
          this.#again = false
          this.beat()
        }
      })
  }

  /** The most live replicas seen in the last heartbeats; undefined until the first heartbeat is answered. */
  replicasSeen (): number | undefined {
    return this.#seen.length === 0 ? undefined : Math.max(...this.#seen)
  }

  /** k for the fallback share: the replicas seen, else store.fallbackReplicas, else undefined (then nothing starts). */
  fallbackDivisor (): Divisor {
    const seen = this.replicasSeen()
    return seen === undefined ? { k: this.#fallbackReplicas, seen: false } : { k: seen, seen: true }
  }

  /** The limits the shared window uses for this upstream: the strictest a live replica publishes (its own until the first heartbeat). */
  shared (upstream: string): WindowLimits | undefined {
    return this.#shared.get(upstream)
  }

  close (): void {
    clearInterval(this.#timer)
    this.#timer = undefined
    // Best effort: the others stop counting this replica at once rather than three heartbeats later.
    if (this.#conn.available) this.#conn.client.zrem(this.#key, this.#member).catch(() => {})
  }

  #learn (members: readonly string[]): void {
    const ids = new Set<string>()
    const shared = new Map<string, { requests: number, windowMs: number }>()
    for (const member of members) {
      const space = member.indexOf(' ')
      if (space === -1) continue
      ids.add(member.slice(0, space))
      let limits: Record<string, [number, number]>
      try {
        limits = JSON.parse(member.slice(space + 1)) as Record<string, [number, number]>
      } catch {
        continue
      }
      for (const [upstream, [requests, windowMs]] of Object.entries(limits)) {
        if (!(requests > 0) || !(windowMs > 0)) continue
        const known = shared.get(upstream)
        if (known === undefined) shared.set(upstream, { requests, windowMs })
        else shared.set(upstream, { requests: Math.min(known.requests, requests), windowMs: Math.max(known.windowMs, windowMs) })
      }
    }
    ids.add(this.#conn.replicaId)
    this.#seen = [...this.#seen, ids.size].slice(-LIVE_BEATS)
    this.#shared = shared
  }

  #memberName (): string {
    return `${this.#conn.replicaId} ${JSON.stringify(this.#limits)}`
  }
}
