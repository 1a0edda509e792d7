/**
 * What the sentinels say about tollgate's primary, heard on every sentinel
 * (SUBSCRIBE), so that a failover loses as few stamps as it can:
 *
 * - `+failover-state-send-slaveof-noone`: a sentinel has picked the replica
 *   it is about to promote (it sends REPLICAOF NO ONE at its next tick). From
 *   the promotion on, whatever is written to the old primary is lost: that
 *   primary goes on taking writes until Sentinel reconfigures it (about 10 s
 *   with Redis 7), and it sees the promoted replica's new role only on its
 *   next INFO, up to a second later, before it announces the switch. So
 *   tollgate stops using the store here (`onFailover`), before the promotion.
 * - `+switch-master`: the new primary is known (`onSwitch`, with its address
 *   before and after): the connections are dropped and made again. The
 *   sentinel that ran the failover says so first; another one asked in the
 *   next second or two may still name the old primary, which is why the
 *   address itself is passed on (redis-connect.ts maps the old one to it).
 * - `-failover-abort-*`, `+failover-end-for-timeout`: the failover did not
 *   happen after all (`onAbort`).
 *
 * Only the sentinel that runs a failover publishes its states, so each
 * sentinel gets a connection. Events about other primaries are ignored.
 * Messages are hints: one missed still ends in `+switch-master` from another
 * sentinel, or in the connection's own failures.
 */
import { Redis, type RedisOptions } from 'ioredis'

const STARTED = '+failover-state-send-slaveof-noone'
const SWITCHED = '+switch-master'
const ENDED = ['-failover-abort-*', '+failover-end-for-timeout']

export interface SentinelWatchOptions {
  readonly sentinels: ReadonlyArray<{ readonly host: string, readonly port: number }>
  /** The primary's name (store.name). */
  readonly name: string
  /** Connection options for a sentinel: credentials, TLS, retryStrategy. */
  readonly connection: RedisOptions
  readonly onFailover: () => void
  /** `from` and `to` as `host:port`. */
  readonly onSwitch: (from: string, to: string) => void
  readonly onAbort: () => void
}

export class SentinelWatch {
  readonly #clients: Redis[]

  constructor (options: SentinelWatchOptions) {
    this.#clients = options.sentinels.map(({ host, port }) => {
      const client = new Redis({ ...options.connection, host, port, lazyConnect: false, enableOfflineQueue: true, maxRetriesPerRequest: null, enableReadyCheck: false })
      // A sentinel that is down is retried by retryStrategy; the others still speak.
      client.on('error', () => {})
      client.on('message', (channel: string, message: string) => this.#heard(options, channel, message))
      client.on('pmessage', (_pattern: string, channel: string, message: string) => this.#heard(options, channel, message))
      client.subscribe(STARTED, SWITCHED).catch(() => {})
      client.psubscribe(...ENDED).catch(() => {})
      return client
    })
  }

  close (): void {
    for (const client of this.#clients) client.disconnect()
  }

  #heard (options: SentinelWatchOptions, channel: string, message: string): void {
    const parts = message.split(' ')
    if (channel === STARTED) {
      // slave <ip>:<port> <ip> <port> @ <name> <ip> <port>
      if (parts[parts.indexOf('@') + 1] === options.name) options.onFailover()
    } else if (channel === SWITCHED) {
      // <name> <old ip> <old port> <new ip> <new port>
      const [name, fromHost, fromPort, toHost, toPort] = parts
      if (name === options.name && toPort !== undefined) options.onSwitch(`${fromHost ?? ''}:${fromPort ?? ''}`, `${toHost ?? ''}:${toPort}`)
    } else if (parts[0] === 'master' && parts[1] === options.name) {
      // master <name> <ip> <port> ...
      options.onAbort()
    }
  }
}
