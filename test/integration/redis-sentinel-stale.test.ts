/**
 * store.sentinels (issue 17 part 2): tollgate follows what the sentinels
 * announce, not only what one of them answers. A sentinel that has not heard
 * of a switch yet still names the old primary; after `+switch-master`
 * tollgate goes to the new one all the same, and between the failover's
 * start and the switch it writes nowhere. Here a sentinel that never learns
 * (test/helpers/fake-sentinel.ts) stands in for one that learns late, and
 * two unrelated Redis servers for the old and the new primary.
 */
import { test, type TestContext } from 'node:test'
import { startFakeSentinel } from '../helpers/fake-sentinel.js'
import { startOrigin } from '../helpers/origin.js'
import { startRedis, waitFor, windowUnits } from '../helpers/redis-server.js'
import { startSidecar } from '../helpers/sidecar.js'

const NAME = 'stale-primary'
const PREFIX = 'sentinel-stale:'

test('a sentinel that still names the old primary after +switch-master: tollgate goes to the new one, and writes nowhere in between', async (t: TestContext) => {
  const before = await startRedis(t)
  const after = await startRedis(t)
  if (before === undefined || after === undefined) return
  const sentinel = await startFakeSentinel(t, NAME, { host: '127.0.0.1', port: before.port })
  const origin = await startOrigin(t)
  const sidecar = await startSidecar(t, {
    store: { type: 'redis', sentinels: [sentinel.address], name: NAME, keyPrefix: PREFIX, onUnavailable: 'fail' },
    upstreams: { vendor: { target: origin.url, rateLimit: { requests: 100, window: '30s' } } }
  })
  const get = async (path: string): Promise<{ status: number, code?: string }> => {
    const res = await fetch(`${sidecar.url}/vendor/${path}`)
    const body = await res.text()
    return res.status === 200 ? { status: 200 } : { status: res.status, code: (JSON.parse(body) as { code: string }).code }
  }

  t.assert.deepStrictEqual(await get('on-the-old-primary'), { status: 200 })
  await waitFor('the start on the old primary', async () => await windowUnits(before.client, PREFIX, 'vendor', 'starts') === 1, 2000)
  await waitFor('tollgate to listen to the sentinel', () => sentinel.subscribers('+switch-master') === 1, 5000)

  // The sentinel picks the replica to promote: from now on a write to the old primary could be lost.
  sentinel.publish('+failover-state-send-slaveof-noone', `slave 127.0.0.1:${after.port} 127.0.0.1 ${after.port} @ ${NAME} 127.0.0.1 ${before.port}`)
  await waitFor('the store to be set aside', () => !sidecar.sidecar.store.status().available, 2000)
  t.assert.deepStrictEqual(await get('during-the-failover'), { status: 503, code: 'TG_STORE_UNAVAILABLE' })

  // The switch is announced, but the sentinel tollgate asks still names the old primary.
  sentinel.publish('+switch-master', `${NAME} 127.0.0.1 ${before.port} 127.0.0.1 ${after.port}`)
  await waitFor('the store to be back', () => sidecar.sidecar.store.status().available, 5000)
  t.assert.deepStrictEqual(await get('on-the-new-primary'), { status: 200 })
  // Both starts: the new one, and the one made on the old primary, written back because this primary has never
  // seen the window (its epoch differs: issue 17 part 4); a real replica would have had it already.
  await waitFor('both starts on the new primary', async () => await windowUnits(after.client, PREFIX, 'vendor', 'starts') === 2, 2000)
  t.assert.strictEqual(await windowUnits(before.client, PREFIX, 'vendor', 'starts'), 1, 'a start was written to the old primary after the failover began')
})
