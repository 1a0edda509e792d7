/**
 * Edges of the shared store found by review, each on a real redis-server:
 * the connection's cool-down after an error answer on the monotonic clock,
 * and a token value that is not of tollgate's form.
 */
import { test, type TestContext } from 'node:test'
import type { StoreConfig } from '../../src/config/types.js'
import { RedisConnection } from '../../src/store/redis-client.js'
import { CLAIM_TOKEN } from '../../src/store/token-scripts.js'
import { startRedis } from '../helpers/redis-server.js'

function storeConfig (url: string, keyPrefix: string): StoreConfig {
  return { type: 'redis', url, keyPrefix, onUnavailable: 'local', commandTimeoutMs: 1000, unavailableAfterMs: 3000 }
}

test('the cool-down after an error answer ends on the monotonic clock: a wall clock stepped back an hour does not keep the store aside', async (t: TestContext) => {
  const redis = await startRedis(t)
  if (redis === undefined) return
  let monotonic = 1_000_000
  const connection = new RedisConnection(storeConfig(redis.url, 'cool:'), undefined, { now: () => monotonic })
  t.after(() => connection.close())
  t.assert.deepStrictEqual(await connection.start(), { ok: true })
  t.assert.strictEqual(connection.available, true)
  // An error answer (here a script error; OOM and READONLY are others): the store is set aside for a second.
  const broken = connection.script('tollgateTestBroken', 0, "return redis.call('NO-SUCH-COMMAND')")
  await t.assert.rejects(broken([], []), { name: 'ReplyError' })
  t.assert.strictEqual(connection.available, false, 'set aside at once')
  // The wall clock steps back an hour (NTP, a VM resumed), and a second passes.
  const wall = Date.now()
  t.mock.method(Date, 'now', () => wall - 3_600_000)
  monotonic += 1001
  t.assert.strictEqual(connection.available, true, 'the cool-down is a second long, whatever the wall clock did')
})

test('a token value not of tollgate\'s form is dropped by the claim, not a script error that sets the store aside', async (t: TestContext) => {
  const redis = await startRedis(t)
  if (redis === undefined) return
  const { client } = redis
  const base = 'odd:token:{vendor}:gen'
  await client.set(base, 'not-a-sealed-token', 'PX', 60_000)
  const reply = await client.eval(CLAIM_TOKEN, 4, base, `${base}:lock`, `${base}:failure`, `${base}:streak`, 'owner-1', 5000, 60_000, '', 'odd:events') as [string]
  t.assert.strictEqual(reply[0], 'fetch', 'the caller fetches a token')
  t.assert.strictEqual(await client.get(base), null, 'the odd value is gone')
})
