/**
 * PUT_TOKEN is fenced (issue 14, part 7): a replica whose fetch outlived its
 * lock never replaces the token that a newer lock holder stored. Run against
 * a real redis-server, on the script itself.
 */
import { test, type TestContext } from 'node:test'
import { PUT_TOKEN } from '../../src/store/token-scripts.js'
import { startRedis } from '../helpers/redis-server.js'

const KEYS = ['t:value', 't:lock', 't:failure', 't:streak']

async function store (client: import('ioredis').Redis, value: string, owner: string, ttlMs = 60_000): Promise<unknown> {
  return await client.eval(PUT_TOKEN, KEYS.length, ...KEYS, value, ttlMs, owner, 'fencing-test', '{}')
}

test('a writer that still holds the lock stores its token and frees the lock', async (t: TestContext) => {
  const redis = await startRedis(t)
  if (redis === undefined) return
  await redis.client.set('t:lock', 'owner-a', 'PX', 5000)
  t.assert.strictEqual(await store(redis.client, 'token-a', 'owner-a'), 1)
  t.assert.strictEqual(await redis.client.get('t:value'), 'token-a')
  t.assert.strictEqual(await redis.client.get('t:lock'), null)
})

test('a writer whose lock expired and was claimed by another never overwrites the newer token', async (t: TestContext) => {
  const redis = await startRedis(t)
  if (redis === undefined) return
  // B claimed after A's lock lapsed, and stored first; B's lock is still held or already freed.
  await redis.client.set('t:value', 'token-b', 'PX', 60_000)
  await redis.client.set('t:lock', 'owner-b', 'PX', 5000)
  // A fetched earlier, so its token has less life left than B's.
  t.assert.strictEqual(await store(redis.client, 'token-a-older', 'owner-a', 30_000), 0)
  t.assert.strictEqual(await redis.client.get('t:value'), 'token-b')
  t.assert.strictEqual(await redis.client.get('t:lock'), 'owner-b', 'B\'s lock is left alone')
  await redis.client.del('t:lock')
  t.assert.strictEqual(await store(redis.client, 'token-a-older', 'owner-a', 30_000), 0, 'no lock, and a token that lasts longer is there: not replaced')
  t.assert.strictEqual(await redis.client.get('t:value'), 'token-b')
})

test('a writer whose lock lapsed with nobody else fetching still stores its token, over an older one', async (t: TestContext) => {
  const redis = await startRedis(t)
  if (redis === undefined) return
  t.assert.strictEqual(await store(redis.client, 'token-a', 'owner-a'), 1)
  t.assert.strictEqual(await redis.client.get('t:value'), 'token-a')
  // A refresh whose lock lapsed: the token it replaces expires sooner than the new one.
  t.assert.strictEqual(await store(redis.client, 'token-a2', 'owner-a', 90_000), 1)
  t.assert.strictEqual(await redis.client.get('t:value'), 'token-a2')
})
