/**
 * The Lua of the shared token (redis-token-store.ts), run atomically by
 * Redis. Every duration crosses the wire as a duration (PX, PTTL): no replica
 * clock is ever compared with another's, or with Redis'.
 *
 * Keys, all under one hash tag (one Cluster slot), `<base>` =
 * `<prefix>token:{<upstream>}:<gen>`:
 *   <base>          sealed token, PX = its remaining lifetime
 *   <base>:lock     the fetching replica's random owner id, PX = token timeout + 2 s
 *   <base>:failure  {detail, reason} of the last failure, PX = its backoff
 *   <base>:streak   failures in a row (failed fetches and rejected tokens), PX = 5 min
 */

/** Backoff after failure number `streak` in a row; the same rule as failureBackoffMs (src/auth/token-store.ts). ARGV base, max, retryAfter at the given positions. */
const BACKOFF = (base: string, max: string, retryAfter: string): string => `
local streak = redis.call('INCR', KEYS[4])
redis.call('PEXPIRE', KEYS[4], STREAK_TTL)
local backoff = math.min(tonumber(${base}) * 2 ^ (streak - 1), tonumber(${max}))
backoff = math.ceil(math.max(backoff, tonumber(${retryAfter})))
`

/**
 * Read the shared token, or become the one replica that fetches it.
 * KEYS: value, lock, failure, streak. ARGV: owner, lockMs, refreshBeforeMs, heldId, channel, rejected id...
 *
 * value is `<id>.<lifetimeMs>.<iv>.<tag>.<ciphertext>`: id and lifetime in
 * clear (neither is secret), so this script can tell a token due for refresh
 * (within min(refreshBefore, lifetime / 2) of its end, the cache's own rule).
 * heldId is the token the caller holds already: asking while holding it means
 * "a newer one" (a refresh), so it is never handed back as the answer.
 * Returns one of
 *   {'token', value, pttl, streak}     a token to use: fresh, or due while another replica refreshes it or the endpoint is failing
 *   {'failure', json, pttl}            the last failure's backoff is running, and there is no other token to offer
 *   {'fetch', '', 0, streak}           the lock is ours: fetch, then PUT_TOKEN or FAIL_TOKEN
 *   {'wait', '', lockPttl}             another replica is fetching, and there is nothing (newer) to use meanwhile
 * A token whose id is listed as rejected (an upstream answered 401 to it, and
 * the invalidation may not have reached Redis) is deleted here, atomically,
 * and the others are told. A value not of that form is deleted too (it would
 * otherwise fail this script on every claim until it expires).
 */
export const CLAIM_TOKEN = `
local v = redis.call('GET', KEYS[1])
local id, life, ttl
if v then
  id, life = string.match(v, '^([^.]+)%.(%d+)%.')
  -- Not of the sealed form (corrupt, or written by something else): as unreadable as a value that does not decrypt.
  if not id then
    redis.call('DEL', KEYS[1])
    v = nil
  end
end
if v then
  for i = 6, #ARGV do
    if ARGV[i] == id then
      redis.call('DEL', KEYS[1])
      redis.call('PUBLISH', ARGV[5], cjson.encode({t = 'invalidate', k = KEYS[1], id = id}))
      v = nil
      break
    end
  end
end
local streak = tonumber(redis.call('GET', KEYS[4]) or '0')
-- offer: a token other than the one the caller holds.
local offer = v and id ~= ARGV[4]
if offer then
  ttl = redis.call('PTTL', KEYS[1])
  if ttl > math.min(tonumber(ARGV[3]), tonumber(life) / 2) then return {'token', v, ttl, streak} end
end
local f = redis.call('GET', KEYS[3])
if f then
  if offer then return {'token', v, ttl, streak} end
  return {'failure', f, redis.call('PTTL', KEYS[3])}
end
if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then return {'fetch', '', 0, streak} end
if offer then return {'token', v, ttl, streak} end
return {'wait', '', redis.call('PTTL', KEYS[2])}
`

/**
 * The lock holder's new token: store it for its remaining lifetime, clear the
 * failure, release the lock if still ours, tell the others. Fenced: stored
 * only while the lock is ours, or, the lock lapsed and nobody else holds it,
 * over no token that outlives it; returns 0 when fenced off (the writer
 * keeps using its token itself). So an older token never replaces a newer
 * one. The streak stays: the token's first use ends it (CONFIRM_TOKEN).
 * KEYS: value, lock, failure, streak. ARGV: value, ttlMs, owner, channel, message.
 */
export const PUT_TOKEN = `
local lock = redis.call('GET', KEYS[2])
if lock ~= ARGV[3] then
  if lock then return 0 end
  local left = redis.call('PTTL', KEYS[1])
  if left > 0 and left >= tonumber(ARGV[2]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('DEL', KEYS[3])
if redis.call('GET', KEYS[2]) == ARGV[3] then redis.call('DEL', KEYS[2]) end
redis.call('PUBLISH', ARGV[4], ARGV[5])
return 1
`

/**
 * The lock holder's fetch failed: remember it for everyone, with the backoff
 * of the row of failures it extends, release the lock if still ours, tell the
 * others. Returns the backoff in ms.
 * KEYS: value, lock, failure, streak. ARGV: json, retryAfterMs, owner, baseMs, maxMs, streakTtlMs, channel, message.
 */
export const FAIL_TOKEN = `
local STREAK_TTL = ARGV[6]
${BACKOFF('ARGV[4]', 'ARGV[5]', 'ARGV[2]')}
redis.call('SET', KEYS[3], ARGV[1], 'PX', backoff)
if redis.call('GET', KEYS[2]) == ARGV[3] then redis.call('DEL', KEYS[2]) end
redis.call('PUBLISH', ARGV[7], ARGV[8])
return backoff
`

/**
 * An upstream answered 401 to token `id`: delete it if it is still the one
 * stored (compare and delete: a newer token stays), and tell the others either
 * way. With a rejection (`json` not empty: the token's first use), it is also
 * a failure of the row, with its backoff, which is returned (else 0).
 * KEYS: value, lock, failure, streak. ARGV: id, channel, json, baseMs, maxMs, streakTtlMs.
 */
export const INVALIDATE_TOKEN = `
local v = redis.call('GET', KEYS[1])
if v and string.sub(v, 1, #ARGV[1] + 1) == ARGV[1] .. '.' then redis.call('DEL', KEYS[1]) end
local backoff = 0
if ARGV[3] ~= '' then
  local STREAK_TTL = ARGV[6]
  ${BACKOFF('ARGV[4]', 'ARGV[5]', '0')}
  redis.call('SET', KEYS[3], ARGV[3], 'PX', backoff)
end
redis.call('PUBLISH', ARGV[2], cjson.encode({t = 'invalidate', k = KEYS[1], id = ARGV[1]}))
return backoff
`

/**
 * The deployment salt: 256 random bits, created once by whichever replica
 * asks first (SET NX), read by every other. Never expires.
 * KEYS: salt. ARGV: a fresh candidate. Returns the salt in force.
 */
export const DEPLOYMENT_SALT = `
redis.call('SET', KEYS[1], ARGV[1], 'NX')
return redis.call('GET', KEYS[1])
`
