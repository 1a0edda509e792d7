/**
 * Lua scripts run atomically by Redis (one contract, two stores: habit H8;
 * fastify-rate-limit store/RedisStore.js does the same with one script). The
 * scripts themselves are beside their users: window-scripts.ts (the shared
 * sliding window) and token-scripts.ts (the shared token).
 *
 * ioredis' defineCommand sends EVALSHA and falls back to EVAL on NOSCRIPT, so
 * a Redis that restarted with an empty script cache needs nothing from us.
 */
import type { RedisClient } from './redis-connect.js'

export type Script = (keys: readonly string[], args: ReadonlyArray<string | number>) => Promise<unknown>

/** One script as a function; defined once per client (defineCommand is idempotent per name here). */
export function defineScript (client: RedisClient, name: string, numberOfKeys: number, lua: string): Script {
  const commands = client as unknown as Record<string, ((...args: Array<string | number>) => Promise<unknown>) | undefined>
  if (commands[name] === undefined) client.defineCommand(name, { numberOfKeys, lua })
  const command = commands[name] as (...args: Array<string | number>) => Promise<unknown>
  return (keys, args) => command.call(client, ...keys, ...args)
}
