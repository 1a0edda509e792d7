/**
 * Token refresh under load. A tollgate whose tokens live a few seconds
 * (maxTokenTtl) and are refreshed ahead of expiry runs in alternation with
 * the long-token tollgate of the throughput scenario (the control), small
 * GETs at 10 connections. The token endpoint is slow on purpose, so a wait
 * would stand out. Two checks: tollgate's own log lines (`waitedMs`, time
 * spent waiting for a token or a limiter slot, and the limit here is never
 * reached) must show no wait as long as half the token endpoint's delay
 * (shorter ones are a GC pause or the OS between two awaits, and are
 * counted apart), and p99 while refreshes are under way is set against the
 * control's p99.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { epochNow } from './child-ipc.js'
import { loadOptions, runLoad } from './scenario-throughput.js'
import { PREFIX, startTollgate, tollgateConfig, type Bench, type TollgateChild } from './setup.js'
import { median, percentile } from './stats.js'

export interface RefreshRound {
  readonly controlP99: number
  readonly refreshP99: number
  /** p99 of responses completed while a refresh was under way (token request sent, its answer + 50 ms). */
  readonly duringP99: number
  readonly duringCount: number
  readonly refreshes: number
  /** Requests whose log line says they waited at least half the token endpoint's delay: a wait for a token. */
  readonly waited: number
  /** Requests whose log line shows any wait (waitedMs ≥ 1), noise included. */
  readonly waitedAtAll: number
  readonly requests: number
}

export interface RefreshResult {
  readonly lifetimeMs: number
  readonly refreshBeforeMs: number
  readonly tokenDelayMs: number
  readonly rounds: RefreshRound[]
  readonly p99Ratio: number
  readonly duringRatio: number
  readonly waited: number
  readonly refreshes: number
}

interface LogLine { readonly msg?: string, readonly time?: number, readonly waitedMs?: number }

export async function runRefresh (bench: Bench, control: TollgateChild): Promise<RefreshResult> {
  const { quick, rounds, durationS, warmupS } = bench.settings
  const lifetimeMs = quick ? 1200 : 3000
  const refreshBeforeMs = quick ? 600 : 1000
  const tokenDelayMs = quick ? 100 : 200
  // Long enough for at least one refresh (quick) or two (full) per run.
  const runS = quick ? 1 : Math.max(durationS * 5 / 3, 5)
  const connections = 10
  const upstream = bench.upstream
  const logDir = await mkdtemp(join(tmpdir(), 'tollgate-bench-refresh-'))
  const logFile = join(logDir, 'tollgate.log')
  const refreshing = await startTollgate(bench, tollgateConfig(upstream.ready, {
    auth: { maxTokenTtl: `${lifetimeMs}ms`, refreshBefore: `${refreshBeforeMs}ms` }
  }), { logTo: logFile })
  const base = `${refreshing.ready.url}${PREFIX}`
  const runs: Array<{ from: number, to: number, result: Omit<RefreshRound, 'waited' | 'waitedAtAll' | 'requests'> }> = []
  try {
    await upstream.call('tokenDelay', { ms: tokenDelayMs })
    // The first tokens are fetched here, not in a measured run (that one wait is the cold start, not a refresh).
    for (const url of [base, `${control.ready.url}${PREFIX}`]) await (await fetch(`${url}/small`)).arrayBuffer()
    if (warmupS > 0) await runLoad(bench, loadOptions(base, 'get', connections, warmupS))
    for (let round = 0; round < rounds; round++) {
      const controlRun = await runLoad(bench, loadOptions(`${control.ready.url}${PREFIX}`, 'get', connections, runS))
      const tokenTimesBefore = (await upstream.call<Float64Array>('tokenRequestTimes')).length
      const from = epochNow()
      const refreshRun = await runLoad(bench, { ...loadOptions(base, 'get', connections, runS), seriesMax: 1_000_000 })
      const to = epochNow()
      const tokenTimes = [...await upstream.call<Float64Array>('tokenRequestTimes')].slice(tokenTimesBefore)
      const series = refreshRun.series ?? { at: [], latency: [] }
      const during: number[] = []
      for (let i = 0; i < series.at.length; i++) {
        const at = series.at[i] as number
        if (tokenTimes.some((t) => at >= t && at <= t + tokenDelayMs + 50)) during.push(series.latency[i] as number)
      }
      runs.push({
        from,
        to,
        result: { controlP99: controlRun.p99, refreshP99: refreshRun.p99, duringP99: percentile(during, 99), duringCount: during.length, refreshes: tokenTimes.length }
      })
    }
  } finally {
    await upstream.call('tokenDelay', { ms: 0 })
    // Stopping flushes the log.
    await refreshing.stop()
  }
  const lines = (await readFile(logFile, 'utf8')).split('\n').filter((l) => l.includes('"request completed"')).map((l) => JSON.parse(l) as LogLine)
  await rm(logDir, { recursive: true, force: true })
  const out: RefreshRound[] = runs.map(({ from, to, result }) => {
    const mine = lines.filter((l) => (l.time ?? 0) >= from && (l.time ?? 0) <= to)
    return {
      ...result,
      requests: mine.length,
      waited: mine.filter((l) => (l.waitedMs ?? 0) >= tokenDelayMs / 2).length,
      waitedAtAll: mine.filter((l) => (l.waitedMs ?? 0) >= 1).length
    }
  })
  return {
    lifetimeMs,
    refreshBeforeMs,
    tokenDelayMs,
    rounds: out,
    p99Ratio: median(out.map((r) => r.refreshP99 / r.controlP99)),
    duringRatio: median(out.map((r) => r.duringP99 / r.controlP99)),
    waited: out.reduce((sum, r) => sum + r.waited, 0),
    refreshes: out.reduce((sum, r) => sum + r.refreshes, 0)
  }
}
