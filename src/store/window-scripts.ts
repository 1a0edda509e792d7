/**
 * The Lua of the shared sliding window (redis-window.ts), run atomically by
 * Redis. Keys of one upstream, under one hash tag (one Cluster slot),
 * `<base>` = `<prefix>limit:{<upstream>}`:
 *
 *   <base>:starts   hash: bucket end (Redis ms) → starts counted in that bucket
 *   <base>:pending  hash: held-until bucket end (Redis ms) → units taken, not yet answered
 *   <base>:pause    string: Redis ms until which nothing starts (a 429)
 *   <base>:clock    string: the latest Redis time any script of this upstream read
 *
 * ## Why buckets, and why they keep the window
 *
 * The work and memory of every script are bounded by a constant, whatever
 * `requests` is: a start at Redis time t is counted in the bucket that ends
 * at ceil(t / B) * B, B = the start bucket width (about window / 100,
 * STARTS_PER_WINDOW in redis-window.ts), and that bucket frees its units at
 * its end + window. So a counted start is held from its stamp until *at
 * least* its stamp + window, never less: rounding up only holds a unit
 * longer. sliding-window.ts proves that a unit held from before the request
 * is sent until its answer + window keeps every vendor window at `requests`
 * arrivals or fewer; holding it longer keeps that true. Live start buckets
 * are those whose end + window lies ahead: at most window / B + 1 of them.
 *
 * Pending units (taken, not yet answered) are counted per held-until bucket,
 * width Bp = hold / PENDING_BUCKETS, held-until rounded up: a replica that
 * dies holding units blocks them at most hold + Bp. At most
 * PENDING_BUCKETS + 1 such buckets live. A ticket is the pending bucket's
 * field; settling it decrements that count (a field that has expired is not
 * touched: its units freed already, and no newer bucket can share its name,
 * as new ones end at least `hold` after now).
 *
 * Learning `x-ratelimit-remaining` adds the missing units to the current
 * bucket in one HINCRBY; a resync after an outage adds at most one HINCRBY
 * per local bucket (the replica tallies its offline starts by bucket too).
 * Every script reads both hashes whole: O(window / B + PENDING_BUCKETS).
 *
 * ## One clock, that never runs back
 *
 * Every script reads `TIME` and keeps the latest value seen in `<base>:clock`:
 * when Redis' clock steps back (an NTP step, a failover to a replica whose
 * clock lags), now stays at the last value, so a bucket never frees early
 * and a pause never grows. Times cross the wire only as durations.
 */

/**
 * `now`: Redis time in ms (µs resolution), never below the last value a
 * script of this upstream read. KEYS[CLOCK] is the clock key. Scripts that
 * call TIME and then write are replicated as effects (the default since Redis 5).
 */
const NOW = (clockKey: string): string => `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local last = tonumber(redis.call('GET', ${clockKey}) or '0') or 0
if now < last then now = last else redis.call('SET', ${clockKey}, string.format('%.3f', now), 'PX', 3600000) end
`

/** Floats go back as strings: Redis truncates a Lua number reply to an integer. */
const MS = (expr: string): string => `string.format('%.3f', ${expr})`

/**
 * Read both hashes whole, drop what has freed, and sum what is held: `used`,
 * and `frees`, a list of {ms when it frees (a lower bound for pending units:
 * once answered they free a window later), count}. `window` must be set.
 */
const HELD = `
local used, frees = 0, {}
local function held (key, freesAt)
  local all = redis.call('HGETALL', key)
  local gone = {}
  for i = 1, #all, 2 do
    local at = freesAt(tonumber(all[i]))
    if at <= now then
      gone[#gone + 1] = all[i]
    else
      local c = tonumber(all[i + 1])
      used = used + c
      frees[#frees + 1] = {at, c}
    end
  end
  if #gone > 0 then redis.call('HDEL', key, unpack(gone)) end
end
held(KEYS[1], function (bucketEnd) return bucketEnd + window end)
held(KEYS[2], function (heldUntil) return math.min(heldUntil, now + window) end)
`

/** The end of the bucket of width `width` that time `at` falls in: rounded up, never down. */
const BUCKET_END = `
local function bucketEnd (at, width) return math.ceil(at / width) * width end
`

/**
 * Take up to `n` window units, pending.
 * KEYS: starts, pending, pause, clock. ARGV: requests, windowMs, n, holdMs, pendingBucketMs, deadline.
 * Returns { taken, waitMs, remaining, pausedMs, ticket, now }: the ticket is
 * the pending bucket the units were counted in; when fewer than n were
 * taken, waitMs is when one more could be, at the earliest (a lower bound
 * when it depends on a pending unit); remaining counts units free after this
 * call; now is the Redis time it ran at (the caller keeps its clock offset).
 *
 * `deadline` (Redis ms, 0 for none): past it the caller has given up on this
 * call (its command timeout), so nothing is taken. A Redis that was stopped
 * runs the calls queued in its socket when it resumes; without the deadline
 * each would take units for a caller that has gone, held until their hold
 * ends (measured: 100 of 200 units a second, for 36 s).
 */
export const ACQUIRE = `${NOW('KEYS[4]')}${BUCKET_END}
local requests, window, n, hold, pwidth = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local deadline = tonumber(ARGV[6]) or 0
local stamp = ${MS('now')}
if deadline > 0 and now > deadline then return {0, '0', 0, '0', '', stamp} end
${HELD}
local pause = tonumber(redis.call('GET', KEYS[3]) or '0') or 0
if pause > now then
  return {0, ${MS('pause - now')}, requests - used, ${MS('pause - now')}, '', stamp}
end
local k = math.max(0, math.min(n, requests - used))
local ticket = ''
if k > 0 then
  ticket = tostring(bucketEnd(now + hold, pwidth))
  redis.call('HINCRBY', KEYS[2], ticket, k)
  redis.call('PEXPIRE', KEYS[2], math.ceil(hold + pwidth) + 1000)
end
local wait = 0
if k < n then
  -- The need-th unit to come back lets one more start.
  local need = used + k - requests + 1
  table.sort(frees, function (a, b) return a[1] < b[1] end)
  local at = now + window
  for i = 1, #frees do
    need = need - frees[i][2]
    if need <= 0 then at = frees[i][1]; break end
  end
  wait = at - now
end
return {k, ${MS('wait')}, requests - used - k, '0', ticket, stamp}
`

/**
 * Settle `units` pending units of one ticket: stamped (the upstream
 * answered: each counts as a start in the current bucket), or given back
 * (nothing reached the upstream). An empty ticket stamps starts that were
 * never pending here (a start this replica made on its own window while a
 * command failed). Stamped even when the pending count has gone (its hold
 * expired): a start is never forgotten.
 * KEYS: starts, pending, clock. ARGV: ticket, units, stamp (1|0), windowMs, bucketMs.
 */
export const SETTLE = `${NOW('KEYS[3]')}${BUCKET_END}
local ticket, units, window, width = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[4]), tonumber(ARGV[5])
if ticket ~= '' then
  local left = tonumber(redis.call('HGET', KEYS[2], ticket) or '0')
  if left > units then redis.call('HINCRBY', KEYS[2], ticket, -units)
  elseif left > 0 then redis.call('HDEL', KEYS[2], ticket) end
end
if ARGV[3] == '1' then
  redis.call('HINCRBY', KEYS[1], tostring(bucketEnd(now, width)), units)
  redis.call('PEXPIRE', KEYS[1], math.ceil(window + width) + 1000)
end
return 1
`

/**
 * x-ratelimit-remaining R: count as many starts now as make the shared
 * remaining equal R, in one bucket; never raises the budget.
 * KEYS: starts, pending, clock. ARGV: requests, windowMs, R, bucketMs. Returns the count added.
 */
export const OBSERVE = `${NOW('KEYS[3]')}${BUCKET_END}
local requests, window, width = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[4])
${HELD}
local add = requests - used - tonumber(ARGV[3])
if add <= 0 then return 0 end
redis.call('HINCRBY', KEYS[1], tostring(bucketEnd(now, width)), add)
redis.call('PEXPIRE', KEYS[1], math.ceil(window + width) + 1000)
return add
`

/**
 * A 429: no start anywhere before now + pauseMs. Only ever moves the end
 * later; when it does, tells the other replicas at once.
 * KEYS: pause, clock. ARGV: pauseMs, channel, message. Returns 1 when the pause moved.
 */
export const PAUSE = `${NOW('KEYS[2]')}
local ms = tonumber(ARGV[1])
local current = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
if now + ms <= current then return 0 end
redis.call('SET', KEYS[1], ${MS('now + ms')}, 'PX', math.ceil(ms) + 1000)
redis.call('PUBLISH', ARGV[2], ARGV[3])
return 1
`

/**
 * Back after an outage: add the starts this replica made meanwhile, given as
 * (age of its local bucket's end, count) pairs, so no replica clock is
 * compared with Redis'; then read the pause in force. The replica keeps at
 * most one pair per bucket of the last window: the call is bounded like
 * every other.
 *
 * Redis restarted empty has lost every replica's starts, not only those made
 * offline. So each deployment's keys of an upstream carry an epoch, set once
 * (`<base>:epoch`, no expiry): a replica sends the epoch it last saw, and when
 * Redis holds another (or none, and takes the one sent), the replica's starts
 * are written back whole, all of them still in its window, each replica its
 * own (as many pairs as buckets again). The tallied ones are a subset: never
 * both.
 * KEYS: starts, pause, clock, epoch. ARGV: windowMs, bucketMs, epoch last
 * seen, a new epoch, T, T tallied (age, count) pairs, then the pairs of every
 * start in the window. Returns {the pause left in ms, the epoch}.
 */
export const RESYNC = `${NOW('KEYS[3]')}${BUCKET_END}
local window, width = tonumber(ARGV[1]), tonumber(ARGV[2])
local epoch = redis.call('GET', KEYS[4])
if not epoch then
  epoch = ARGV[4]
  redis.call('SET', KEYS[4], epoch)
end
local tallied = 5 + 2 * tonumber(ARGV[5])
local first, last = 6, tallied
if epoch ~= ARGV[3] then first, last = tallied + 1, #ARGV end
local added = 0
for i = first, last - 1, 2 do
  local age, count = tonumber(ARGV[i]), tonumber(ARGV[i + 1])
  if age < window and count > 0 then
    redis.call('HINCRBY', KEYS[1], tostring(bucketEnd(now - age, width)), count)
    added = added + 1
  end
end
if added > 0 then redis.call('PEXPIRE', KEYS[1], math.ceil(window + width) + 1000) end
local pause = tonumber(redis.call('GET', KEYS[2]) or '0') or 0
return {${MS('math.max(0, pause - now)')}, epoch}
`
