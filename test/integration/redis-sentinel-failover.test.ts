/**
 * store.sentinels (issue 17 part 2): `SENTINEL FAILOVER` in the middle of
 * live traffic through two groups of three replicas (local, fail). The
 * demoted primary stays writable for about 10 s after the switch (Redis 7
 * Sentinel converts it late), and Sentinel announces the switch up to a
 * second after the promotion: tollgate stops using the store when the
 * failover starts (src/store/sentinel-watch.ts), so no stamp is written
 * where it would be lost. What is checked: test/helpers/sentinel-traffic.ts,
 * checkFailover.
 */
import { test, type TestContext } from 'node:test'
import type { Redis } from 'ioredis'
import { checkFailover, failoverUnderTraffic } from '../helpers/sentinel-traffic.js'

test('SENTINEL FAILOVER under live traffic: local answers all, fail refuses only around it, the window holds, the token survives', async (t: TestContext) => {
  const outcome = await failoverUnderTraffic(t, {
    requests: 60,
    windowMs: 20_000,
    failoverAfterMs: 5000,
    // Through the last sentinel: tollgate asks the first one for the primary, which hears of the switch a second or
    // two later and names the old primary meanwhile; tollgate must go to the new one all the same.
    setOff: (set) => (set.sentinelClients.at(-1) as Redis).call('SENTINEL', 'FAILOVER', set.name),
    oldPrimaryLives: true
  })
  if (outcome === undefined) return
  await checkFailover(t, outcome)
})
