/**
 * store.sentinels (issue 17 part 2): the primary is killed (SIGKILL) in the
 * middle of live traffic through two groups of three replicas (local,
 * fail); the sentinels judge it down after 1 s and promote the replica.
 * What is checked: test/helpers/sentinel-traffic.ts, checkFailover.
 */
import { test, type TestContext } from 'node:test'
import { checkFailover, failoverUnderTraffic } from '../helpers/sentinel-traffic.js'

test('the primary killed under live traffic: local answers all, fail refuses only around the failover, the window holds, the token survives', async (t: TestContext) => {
  const outcome = await failoverUnderTraffic(t, {
    requests: 40,
    windowMs: 10_000,
    failoverAfterMs: 4000,
    setOff: async (set) => { await set.nodes.get(await set.primaryPort())?.kill() }
  })
  if (outcome === undefined) return
  await checkFailover(t, outcome)
})
