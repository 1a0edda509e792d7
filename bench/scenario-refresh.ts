/**
 * Token refresh under load. A tollgate whose tokens live a few seconds
 * (maxTokenTtl) and are refreshed ahead of expiry runs in alternation with
 * the long-token tollgate of the throughput scenario (the control), small
 * GETs at 10 connections. The token endpoint is made slow on purpose: a
 * request that waited for a refresh would take at least that long, so the
 * count of such responses is the direct test, and p99 during the refresh
 * windows against the control's p99 the indirect one.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { loadOptions, runLoad } from './scenario-throughput.js'
import { PREFIX, startTollgate, tollgateConfig, type Bench, type TollgateChild } from './setup.js'
import { median, percentile } from './stats.js'

export interface RefreshRound {
  readonly controlP99: number
  readonly refreshP99: number
  /** p99 of responses completed while a refresh was under way (token request sent, answer not yet + 50 ms). */
  readonly duringP99: number
  readonly duringCount: number
  readonly refreshes: number
  /** Responses at least as slow as the token endpoint: each one a wait on a refresh. */
  readonly slowRefresh: number
  readonly slowControl: number
}

export interface RefreshResult {
  readonly lifetimeMs: number
  readonly refreshBeforeMs: number
  readonly tokenDelayMs: number
  readonly rounds: RefreshRound[]
  readonly p99Ratio: number
  readonly duringRatio: number
  readonly waited: number
}

export async function runRefresh (bench: Bench, control: TollgateChild): Promise<RefreshResult> {
  const { quick, rounds, durationS, warmupS } = bench.settings
  const lifetimeMs = quick ? 1200 : 4000
  const refreshBeforeMs = quick ? 600 : 1500
  const tokenDelayMs = quick ? 100 : 200
  // Long enough for at least one refresh (quick) or two (full) per run.
  const runS = quick ? 1 : Math.max(durationS * 2, 6)
  const connections = 10
  const upstream = bench.upstream
  const refreshing = await startTollgate(bench, tollgateConfig(upstream.ready, {
    auth: { maxTokenTtl: `${lifetimeMs}ms`, refreshBefore: `${refreshBeforeMs}ms` }
  }))
  try {
    await upstream.call('tokenDelay', { ms: tokenDelayMs })
    if (warmupS > 0) await runLoad(bench, loadOptions(`${refreshing.ready.url}${PREFIX}`, 'get', connections, warmupS))
    const out: RefreshRound[] = []
    for (let round = 0; round < rounds; round++) {
      const controlRun = await runLoad(bench, { ...loadOptions(`${control.ready.url}${PREFIX}`, 'get', connections, runS), seriesMax: 1_000_000 })
      const tokenTimesBefore = (await upstream.call<Float64Array>('tokenRequestTimes')).length
      const refreshRun = await runLoad(bench, { ...loadOptions(`${refreshing.ready.url}${PREFIX}`, 'get', connections, runS), seriesMax: 1_000_000 })
      const tokenTimes = [...await upstream.call<Float64Array>('tokenRequestTimes')].slice(tokenTimesBefore)
      const series = refreshRun.series ?? { at: [], latency: [] }
      const during: number[] = []
      for (let i = 0; i < series.at.length; i++) {
        const at = series.at[i] as number
        if (tokenTimes.some((t) => at >= t && at <= t + tokenDelayMs + 50)) during.push(series.latency[i] as number)
      }
      out.push({
        controlP99: controlRun.p99,
        refreshP99: refreshRun.p99,
        duringP99: percentile(during, 99),
        duringCount: during.length,
        refreshes: tokenTimes.length,
        slowRefresh: series.latency.filter((ms) => ms >= tokenDelayMs).length,
        slowControl: (controlRun.series?.latency ?? []).filter((ms) => ms >= tokenDelayMs).length
      })
      // Start the next round at another point of the refresh cycle.
      await sleep(quick ? 50 : 300)
    }
    return {
      lifetimeMs,
      refreshBeforeMs,
      tokenDelayMs,
      rounds: out,
      p99Ratio: median(out.map((r) => r.refreshP99 / r.controlP99)),
      duringRatio: median(out.map((r) => r.duringP99 / r.controlP99)),
      waited: out.reduce((sum, r) => sum + r.slowRefresh, 0)
    }
  } finally {
    await upstream.call('tokenDelay', { ms: 0 })
    await refreshing.stop()
  }
}
