/**
 * Cold-start stampede: a fresh tollgate (no token yet) gets `count`
 * concurrent first requests. Single flight means exactly one token request;
 * every request waits for it, so time to first byte is the token endpoint's
 * delay plus the sidecar's work for the burst.
 */
import { runJsonChild } from './proc.js'
import { PREFIX, startTollgate, tollgateConfig, type Bench } from './setup.js'
import type { StampedeResult } from './stampede-client.js'
import { percentile } from './stats.js'

export interface StampedeSummary {
  readonly count: number
  readonly tokenDelayMs: number
  readonly tokenRequests: number
  readonly statuses: Record<string, number>
  readonly ttfbP50: number
  readonly ttfbP99: number
  readonly ttfbMax: number
  readonly spanMs: number
}

export async function runStampede (bench: Bench): Promise<StampedeSummary> {
  const count = bench.settings.quick ? 200 : 1000
  const tokenDelayMs = 50
  const upstream = bench.upstream
  const tollgate = await startTollgate(bench, tollgateConfig(upstream.ready))
  try {
    await upstream.call('tokenDelay', { ms: tokenDelayMs })
    const before = (await upstream.call<{ tokenRequests: number }>('counters')).tokenRequests
    const result = await runJsonChild<StampedeResult>(bench.main.outDir, 'stampede-client', { url: tollgate.ready.url, path: `${PREFIX}/small`, count }, 60_000)
    const after = (await upstream.call<{ tokenRequests: number }>('counters')).tokenRequests
    return {
      count,
      tokenDelayMs,
      tokenRequests: after - before,
      statuses: result.statuses,
      ttfbP50: percentile(result.ttfb, 50),
      ttfbP99: percentile(result.ttfb, 99),
      ttfbMax: percentile(result.ttfb, 100),
      spanMs: result.spanMs
    }
  } finally {
    await upstream.call('tokenDelay', { ms: 0 })
    await tollgate.stop()
  }
}
