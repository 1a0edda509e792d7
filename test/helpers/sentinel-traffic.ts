/**
 * A Sentinel failover in the middle of live traffic (issue 17 part 2): a
 * primary, a replica and three sentinels (test/helpers/redis-topology.ts),
 * two groups of three tollgate replicas, one with `onUnavailable: local` and
 * one with `fail`, each with its own recording upstream and token endpoint.
 * Requests are sent at a steady pace a little above N / W, spread over the
 * replicas, so starts are being made when the failover happens and the
 * window binds within W of it: a stamp the failover lost would show as an
 * extra start in the upstream's recording.
 */
import type { TestContext } from 'node:test'
import { Agent } from 'undici'
import { type Origin, startOrigin } from './origin.js'
import { waitFor } from './redis-server.js'
import type { Redis } from 'ioredis'
import { startSentinelSet, testClient, type SentinelSet } from './redis-topology.js'
import { startSidecar, type RunningSidecar } from './sidecar.js'
import { startTokenEndpoint, tokenReply, type TokenEndpoint } from './token-endpoint.js'
import { maxInAnyWindow } from './window.js'

const DATA_PASSWORD = 'sentinel-test-data-password-e1'
const SENTINEL_PASSWORD = 'sentinel-test-sentinel-password-7a'
const CLIENT_SECRET = 'sentinel-test-client-secret-0b'
/** Only requests started this close to a failover may be refused under `fail`. */
export const GRACE_MS = 5000

export interface Scenario {
  /** rateLimit.requests and window. */
  readonly requests: number
  readonly windowMs: number
  /** After this much traffic, the failover is set off. */
  readonly failoverAfterMs: number
  /** Sets the failover off: SENTINEL FAILOVER, a killed primary. */
  readonly setOff: (set: SentinelSet) => Promise<unknown>
  /** The old primary lives on: count the scripts it runs once the failover has started. */
  readonly oldPrimaryLives?: boolean
}

/** Scripts (EVALSHA, EVAL) a Redis has run. */
async function scriptsRun (client: Redis): Promise<number> {
  const stats = await client.info('commandstats')
  return [...stats.matchAll(/^cmdstat_eval(?:sha)?:calls=(\d+)/gm)].reduce((sum, match) => sum + Number(match[1]), 0)
}

interface Answer { readonly startedAt: number, readonly status: number, readonly code?: string }

interface Group {
  readonly mode: 'local' | 'fail'
  readonly fleet: RunningSidecar[]
  readonly origin: Origin
  readonly tokens: TokenEndpoint
  readonly answers: Answer[]
  readonly store: Record<string, unknown>
  readonly upstream: Record<string, unknown>
}

async function startGroup (t: TestContext, set: SentinelSet, scenario: Scenario, mode: 'local' | 'fail'): Promise<Group> {
  const origin = await startOrigin(t, (req, res) => {
    req.resume()
    setTimeout(() => res.end('ok'), 5)
  })
  let issued = 0
  const tokens = await startTokenEndpoint(t, () => tokenReply(`sentinel-${mode}-token-${++issued}`, 3600))
  const store = { type: 'redis', sentinels: set.sentinels, name: set.name, password: DATA_PASSWORD, sentinelPassword: SENTINEL_PASSWORD, keyPrefix: `sentinel-${mode}:`, onUnavailable: mode }
  const upstream = {
    target: origin.url,
    auth: { type: 'oauth2_client_credentials', tokenUrl: tokens.url, clientId: `sentinel-${mode}`, clientSecret: CLIENT_SECRET },
    rateLimit: { requests: scenario.requests, window: `${scenario.windowMs}ms`, maxWait: '30s' }
  }
  const fleet = await Promise.all([0, 1, 2].map(() => startSidecar(t, { store, upstreams: { vendor: upstream } })))
  return { mode, fleet, origin, tokens, answers: [], store, upstream }
}

/**
 * One request every `everyMs`, to the replicas in turn, until stopped; then
 * the requests still waiting for the window are waited for (each is answered
 * within maxWait). Not cancelled: a sidecar takes seconds to close after a
 * client cancels a queued request (reported with issue 17).
 */
function pace (group: Group, dispatcher: Agent, everyMs: number): { stop (): Promise<void> } {
  const pending = new Set<Promise<void>>()
  let n = 0
  const send = (): void => {
    const sidecar = group.fleet[n % group.fleet.length] as RunningSidecar
    const startedAt = performance.now()
    const request = fetch(`${sidecar.url}/vendor/r/${n++}`, { dispatcher } as RequestInit).then(async (res) => {
      const body = await res.text()
      const code = res.status === 200 ? undefined : (JSON.parse(body) as { code?: string }).code
      group.answers.push({ startedAt, status: res.status, ...(code === undefined ? {} : { code }) })
    }, (err: unknown) => {
      group.answers.push({ startedAt, status: 0, code: String(err) })
    })
    pending.add(request)
    request.finally(() => pending.delete(request)).catch(() => {})
  }
  const timer = setInterval(send, everyMs)
  send()
  return {
    async stop () {
      clearInterval(timer)
      await Promise.all(pending)
    }
  }
}

export interface FailoverOutcome {
  readonly scenario: Scenario
  readonly set: SentinelSet
  readonly setOffAt: number
  readonly switchedAt: number
  /** With oldPrimaryLives: scripts the old primary ran from 100 ms after the failover started (when the replica is promoted) to the end. */
  readonly scriptsOnOldPrimary?: number
  readonly groups: readonly Group[]
  /** Closed before the Redis processes go; a sidecar started later joins them. */
  readonly sidecars: RunningSidecar[]
}

export async function failoverUnderTraffic (t: TestContext, scenario: Scenario): Promise<FailoverOutcome | undefined> {
  // Added before the Redis processes' hooks, so it runs first (t.after hooks run in the order they were added):
  // every sidecar closes while Redis is there, whatever failed.
  const sidecars: RunningSidecar[] = []
  t.after(() => Promise.all(sidecars.map((sidecar) => sidecar.close())))
  const set = await startSentinelSet(t, { password: DATA_PASSWORD, sentinelPassword: SENTINEL_PASSWORD, downAfterMs: 1000 })
  if (set === undefined) return undefined
  const switches: number[] = []
  const oldPrimary = set.client(await set.primaryPort())
  let scriptsAtFailover: Promise<number> | undefined
  // On every sentinel: the one that runs the failover announces its steps and the switch first; the others, the switch when they hear of it.
  await Promise.all(set.sentinels.map(async (address) => {
    const watcher = testClient(t, { port: Number(address.split(':')[1]), password: SENTINEL_PASSWORD })
    watcher.on('message', (channel: string) => {
      if (channel === '+switch-master') switches.push(performance.now())
      // Sentinel sends REPLICAOF NO ONE at its next tick (100 ms at most); what the old primary runs after that is lost.
      else if (scenario.oldPrimaryLives === true) scriptsAtFailover ??= new Promise((resolve) => setTimeout(resolve, 100)).then(() => scriptsRun(oldPrimary))
    })
    await watcher.subscribe('+switch-master', '+failover-state-send-slaveof-noone')
  }))

  const groups = await Promise.all([startGroup(t, set, scenario, 'local'), startGroup(t, set, scenario, 'fail')])
  sidecars.push(...groups.flatMap((group) => group.fleet))
  const dispatcher = new Agent({ connections: 64 })
  t.after(() => dispatcher.close())
  // 20 % above what the window lets through: it binds, and starts are spread over it.
  const everyMs = scenario.windowMs / scenario.requests / 1.2
  const traffic = groups.map((group) => pace(group, dispatcher, everyMs))
  const startedAt = performance.now()
  t.after(() => Promise.all(traffic.map((run) => run.stop())))

  await new Promise((resolve) => setTimeout(resolve, scenario.failoverAfterMs))
  const setOffAt = performance.now()
  await scenario.setOff(set)
  await waitFor('the sentinels to switch primaries', () => switches.length > 0, 15_000)
  const switchedAt = switches[0] as number
  // Until the window has bound after the failover, and fail must answer everything again.
  const until = Math.max(startedAt + scenario.windowMs * 1.1, switchedAt + GRACE_MS + 1500)
  await new Promise((resolve) => setTimeout(resolve, until - performance.now()))
  await Promise.all(traffic.map((run) => run.stop()))
  if (scenario.oldPrimaryLives !== true) return { scenario, set, setOffAt, switchedAt, groups, sidecars }
  if (scriptsAtFailover === undefined) throw new Error('the sentinel did not announce +failover-state-send-slaveof-noone')
  return { scenario, set, setOffAt, switchedAt, scriptsOnOldPrimary: await scriptsRun(oldPrimary) - await scriptsAtFailover, groups, sidecars }
}

/**
 * What the issue asks of a failover: local answers every request 200; fail
 * refuses only with 503 TG_STORE_UNAVAILABLE and only requests started
 * within GRACE_MS of it; at most N + ⌈N/20⌉ starts in any window at the
 * upstream; the token survived (a replica started now finds it in Redis) or
 * was fetched once more; no password or secret in any log.
 */
export async function checkFailover (t: TestContext, outcome: FailoverOutcome): Promise<void> {
  const { scenario, set, setOffAt, switchedAt } = outcome
  const bound = scenario.requests + Math.ceil(scenario.requests / 20)
  t.diagnostic(`switched ${Math.round(switchedAt - setOffAt)} ms after being set off`)
  // Every stamp written there after the promotion would be lost: tollgate stopped when the failover started.
  if (outcome.scriptsOnOldPrimary !== undefined) t.assert.strictEqual(outcome.scriptsOnOldPrimary, 0, 'the old primary ran scripts after its replica was promoted')
  for (const group of outcome.groups) {
    const starts = group.origin.requests.map((request) => request.startedAt)
    const max = maxInAnyWindow(starts, scenario.windowMs)
    const refused = group.answers.filter((answer) => answer.status !== 200)
    t.diagnostic(`${group.mode}: ${group.answers.length} answers, ${refused.length} refused (started ${refused.map((a) => Math.round(a.startedAt - switchedAt)).join(', ')} ms from the switch); ${starts.length} starts at the upstream, at most ${max} in one window (N = ${scenario.requests})`)

    // Without the window (full, or overfull under local): the token's key does not depend on it.
    const { rateLimit: _window, ...unlimited } = group.upstream
    const late = await startSidecar(undefined, { store: group.store, upstreams: { vendor: unlimited } })
    outcome.sidecars.push(late)
    const res = await fetch(`${late.url}/vendor/late`)
    await res.arrayBuffer()
    t.assert.strictEqual(res.status, 200, `${group.mode}: a replica started after the failover was refused`)
    const keys = await set.client(await set.primaryPort()).keys(`sentinel-${group.mode}:token:{vendor}:*`)
    const survived = keys.some((key) => /:[\w-]{22}$/.test(key)) && group.tokens.requests.length === 1
    t.diagnostic(`${group.mode}: the token ${survived ? 'survived the failover' : 'was fetched again'} (${group.tokens.requests.length} fetches)`)
    t.assert.ok(group.tokens.requests.length <= 2 && (survived || group.tokens.requests.length === 2), `${group.mode}: ${group.tokens.requests.length} token fetches`)

    for (const sidecar of [...group.fleet, late]) {
      const log = sidecar.logs.text()
      t.assert.ok(![DATA_PASSWORD, SENTINEL_PASSWORD, CLIENT_SECRET].some((secret) => log.includes(secret)), `${group.mode}: a password reached the log`)
    }
    t.assert.ok(max <= bound, `${group.mode}: ${max} starts in one ${scenario.windowMs} ms window, more than N + ⌈N/20⌉ = ${bound}`)
    if (group.mode === 'local') {
      t.assert.deepStrictEqual(refused, [], 'local: a request was not answered 200')
      continue
    }
    for (const answer of refused) {
      t.assert.deepStrictEqual({ status: answer.status, code: answer.code }, { status: 503, code: 'TG_STORE_UNAVAILABLE' })
      t.assert.ok(answer.startedAt >= setOffAt - GRACE_MS && answer.startedAt <= switchedAt + GRACE_MS, `fail: a request started ${Math.round(answer.startedAt - switchedAt)} ms from the switch was refused`)
    }
  }
}
