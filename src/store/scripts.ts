/**
 * Lua scripts run atomically by Redis (one contract, two stores: habit H8;
 * fastify-rate-limit store/RedisStore.js does the same with one script).
 * ioredis' defineCommand sends EVALSHA and falls back to EVAL on NOSCRIPT, so
 * a Redis that restarted with an empty script cache needs nothing from us.
 *
 * Every script reads the time with `redis.call('TIME')`: all replicas judge
 * the window by one clock, Redis', and replica clocks never meet. Times cross
 * the wire only as durations (how long to wait, how long to pause).
 */
import type { Redis } from 'ioredis'

export type Script = (keys: readonly string[], args: ReadonlyArray<string | number>) => Promise<unknown>

/** Redis time in ms, with µs resolution. Scripts that call TIME and then write are replicated as effects (the default since Redis 5). */
const NOW = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
`

/** Floats go back as strings: Redis truncates a Lua number reply to an integer. */
const MS = (expr: string): string => `string.format('%.3f', ${expr})`

/**
 * Take up to `n` window units, pending.
 * KEYS: starts (zset member → stamp), pending (zset member → held-until), pause (string: until).
 * ARGV: requests, windowMs, n, holdMs, member base.
 * Returns { taken, waitMs, remaining, pausedMs }: when fewer than n were
 * taken, waitMs is the earliest moment one more could be (a lower bound when
 * it depends on a pending unit, which frees no sooner than one window after
 * now); remaining counts units free after this call.
 *
 * A pending unit is held until its stamp + window; unstamped, until
 * acquire + hold, where hold = the longest a request can stay unanswered plus
 * one window. So a replica that dies holding units blocks them no longer than
 * that, and a stamp lost on the way never frees a unit early.
 */
export const ACQUIRE = `${NOW}
local requests, window, n, hold = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
local used = redis.call('ZCARD', KEYS[1]) + redis.call('ZCARD', KEYS[2])
local pause = tonumber(redis.call('GET', KEYS[3]) or '0') or 0
if pause > now then
  return {0, ${MS('pause - now')}, requests - used, ${MS('pause - now')}}
end
local k = math.max(0, math.min(n, requests - used))
for i = 1, k do
  redis.call('ZADD', KEYS[2], now + hold, ARGV[5] .. '.' .. i)
end
if k > 0 then redis.call('PEXPIRE', KEYS[2], math.ceil(hold) + 1000) end
local wait = 0
if k < n then
  -- The need-th unit to come back frees the next one: merge stamp ends and pending lower bounds.
  local need = used + k - requests + 1
  local stamps = redis.call('ZRANGE', KEYS[1], 0, need - 1, 'WITHSCORES')
  local held = redis.call('ZRANGE', KEYS[2], 0, need - 1, 'WITHSCORES')
  local i, j, at = 2, 2, now + window
  for _ = 1, need do
    local a = stamps[i] and (tonumber(stamps[i]) + window) or math.huge
    local b = held[j] and math.min(tonumber(held[j]), now + window) or math.huge
    if a <= b then at = a; i = i + 2 else at = b; j = j + 2 end
  end
  if at == math.huge then at = now + window end
  wait = at - now
end
return {k, ${MS('wait')}, requests - used - k, '0'}
`

/**
 * The upstream answered: the pending unit becomes a start stamped now (Redis
 * time, a little after the answer: late, the safe side). Stamped even when
 * its pending entry has gone (hold expired): a start is never forgotten.
 * KEYS: starts, pending. ARGV: member, windowMs.
 */
export const STAMP = `${NOW}
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('PEXPIRE', KEYS[1], math.ceil(tonumber(ARGV[2])) + 1000)
return 1
`

/**
 * x-ratelimit-remaining R: count as many phantom starts now as make the
 * shared remaining equal R; never raises the budget.
 * KEYS: starts, pending. ARGV: requests, windowMs, R, member base. Returns the count added.
 */
export const OBSERVE = `${NOW}
local requests, window = tonumber(ARGV[1]), tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
local take = requests - redis.call('ZCARD', KEYS[1]) - redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[3])
if take <= 0 then return 0 end
for i = 1, take do
  redis.call('ZADD', KEYS[1], now, ARGV[4] .. '.' .. i)
end
redis.call('PEXPIRE', KEYS[1], math.ceil(window) + 1000)
return take
`

/**
 * A 429: no start anywhere before now + pauseMs. Only ever moves the end
 * later; when it does, tells the other replicas at once.
 * KEYS: pause. ARGV: pauseMs, channel, message. Returns 1 when the pause moved.
 */
export const PAUSE = `${NOW}
local ms = tonumber(ARGV[1])
local current = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
if now + ms <= current then return 0 end
redis.call('SET', KEYS[1], ${MS('now + ms')}, 'PX', math.ceil(ms) + 1000)
redis.call('PUBLISH', ARGV[2], ARGV[3])
return 1
`

/**
 * Back after an outage: write the starts this replica made meanwhile (as
 * ages, so no replica clock is involved), and read the pause in force.
 * KEYS: starts, pause. ARGV: windowMs, member base, age... Returns the pause left in ms.
 */
export const RESYNC = `${NOW}
local window = tonumber(ARGV[1])
local added = 0
for i = 3, #ARGV do
  local age = tonumber(ARGV[i])
  if age < window then
    redis.call('ZADD', KEYS[1], now - age, ARGV[2] .. '.' .. (i - 2))
    added = added + 1
  end
end
if added > 0 then redis.call('PEXPIRE', KEYS[1], math.ceil(window) + 1000) end
local pause = tonumber(redis.call('GET', KEYS[2]) or '0') or 0
return ${MS('math.max(0, pause - now)')}
`

/**
 * Read the shared token, or become the one replica that fetches it.
 * KEYS: value, lock, failure. ARGV: owner, lockMs, refreshBeforeMs, heldId, channel, rejected id...
 *
 * value is `<id>.<lifetimeMs>.<iv>.<tag>.<ciphertext>`: id and lifetime in
 * clear (neither is secret), so this script can tell a token due for refresh
 * (within min(refreshBefore, lifetime / 2) of its end, the cache's own rule).
 * heldId is the token the caller holds already: asking while holding it means
 * "a newer one" (a refresh), so it is never handed back as the answer.
 * Returns one of
 *   {'token', value, pttl}      a token to use: fresh, or due while another replica refreshes it or the endpoint is failing
 *   {'failure', json, pttl}     the last fetch failed, its backoff is running, and there is no other token to offer
 *   {'fetch'}                   the lock is ours: fetch, then STORE_TOKEN or STORE_FAILURE
 *   {'wait', '', lockPttl}      another replica is fetching, and there is nothing (newer) to use meanwhile
 * A token whose id is listed as rejected (an upstream answered 401 to it) is
 * deleted here, atomically, and the others are told.
 */
export const CLAIM_TOKEN = `
local v = redis.call('GET', KEYS[1])
local id, life, ttl
if v then
  id, life = string.match(v, '^([^.]+)%.(%d+)%.')
  for i = 6, #ARGV do
    if ARGV[i] == id then
      redis.call('DEL', KEYS[1])
      redis.call('PUBLISH', ARGV[5], cjson.encode({t = 'invalidate', k = KEYS[1], id = id}))
      v = nil
      break
    end
  end
end
-- offer: a token other than the one the caller holds.
local offer = v and id ~= ARGV[4]
if offer then
  ttl = redis.call('PTTL', KEYS[1])
  if ttl > math.min(tonumber(ARGV[3]), tonumber(life) / 2) then return {'token', v, ttl} end
end
local f = redis.call('GET', KEYS[3])
if f then
  if offer then return {'token', v, ttl} end
  return {'failure', f, redis.call('PTTL', KEYS[3])}
end
if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then return {'fetch'} end
if offer then return {'token', v, ttl} end
return {'wait', '', redis.call('PTTL', KEYS[2])}
`

/**
 * The lock holder's new token: store it for its remaining lifetime, end the
 * failure streak, release the lock if still ours, tell the others. Fenced:
 * stored only while the lock is ours, or, the lock lapsed and nobody else
 * holds it, over no token that outlives it; returns 0 when fenced off (the
 * writer still uses its token itself). So an older token never replaces a
 * newer one.
 * KEYS: value, lock, failure, streak. ARGV: value, ttlMs, owner, channel, message.
 */
export const STORE_TOKEN = `
-- Fenced: a fetch that outlived its lock must not replace a newer token.
local lock = redis.call('GET', KEYS[2])
if lock ~= ARGV[3] then
  if lock then return 0 end
  local left = redis.call('PTTL', KEYS[1])
  if left > 0 and left >= tonumber(ARGV[2]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('DEL', KEYS[3], KEYS[4])
if redis.call('GET', KEYS[2]) == ARGV[3] then redis.call('DEL', KEYS[2]) end
redis.call('PUBLISH', ARGV[4], ARGV[5])
return 1
`

/**
 * The lock holder's fetch failed: remember it for everyone, for a backoff
 * that doubles with each failure in a row across all replicas (1 s to 30 s),
 * or the endpoint's retry-after when longer. Returns the backoff in ms.
 * KEYS: value, lock, failure, streak. ARGV: json, retryAfterMs, owner, baseMs, maxMs.
 */
export const STORE_FAILURE = `
local streak = redis.call('INCR', KEYS[4])
redis.call('PEXPIRE', KEYS[4], 300000)
local backoff = math.min(tonumber(ARGV[4]) * 2 ^ (streak - 1), tonumber(ARGV[5]))
backoff = math.ceil(math.max(backoff, tonumber(ARGV[2])))
redis.call('SET', KEYS[3], ARGV[1], 'PX', backoff)
if redis.call('GET', KEYS[2]) == ARGV[3] then redis.call('DEL', KEYS[2]) end
return backoff
`

/**
 * An upstream answered 401 to token `id`: delete it if it is still the one
 * stored (compare and delete: a newer token stays), and tell the others either way.
 * KEYS: value. ARGV: id, channel. Returns 1 when deleted.
 */
export const INVALIDATE_TOKEN = `
local v = redis.call('GET', KEYS[1])
local deleted = 0
if v and string.sub(v, 1, #ARGV[1] + 1) == ARGV[1] .. '.' then
  redis.call('DEL', KEYS[1])
  deleted = 1
end
redis.call('PUBLISH', ARGV[2], cjson.encode({t = 'invalidate', k = KEYS[1], id = ARGV[1]}))
return deleted
`

/** One script as a function; defined once per client (defineCommand is idempotent per name here). */
export function defineScript (client: Redis, name: string, numberOfKeys: number, lua: string): Script {
  const commands = client as unknown as Record<string, ((...args: Array<string | number>) => Promise<unknown>) | undefined>
  if (commands[name] === undefined) client.defineCommand(name, { numberOfKeys, lua })
  const command = commands[name] as (...args: Array<string | number>) => Promise<unknown>
  return (keys, args) => command.call(client, ...keys, ...args)
}
