/**
 * Limiter accuracy and cost under overload: a limit of N per W, 100
 * connections (a closed loop, so the queue never empties while the load
 * runs), and the upstream recording when each request reached it. Checked
 * over that recording, not over tollgate's own idea of it: no interval of W
 * holds more than N starts, the upstream got close to N in every window,
 * and how late each start came after its unit was free. Cost: tollgate's CPU
 * time per request, from /proc.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { maxInAnyWindow } from '../test/helpers/window.js'
import { procCpuMs } from './proc.js'
import { loadOptions, runLoad } from './scenario-throughput.js'
import { PREFIX, startTollgate, tollgateConfig, type Bench, type TargetStatus } from './setup.js'
import { achievedFraction, percentile, windowCheck } from './stats.js'

export interface LimiterSummary {
  readonly requests: number
  readonly windowMs: number
  readonly durationS: number
  readonly connections: number
  readonly starts: number
  readonly maxInWindow: number
  readonly violations: number
  readonly achieved: number
  readonly windows: number
  /** ms after the unit came free, over all starts past the first N; negative: before it did (a window over N). */
  readonly lateMin: number
  readonly lateP50: number
  readonly lateP99: number
  readonly lateMax: number
  readonly rejected: number
  readonly non2xx: number
  readonly clientP50: number
  readonly cpuMsPerRequest: number
}

export async function runLimiter (bench: Bench): Promise<LimiterSummary> {
  const quick = bench.settings.quick
  // Well below what the sidecar can serve here (about 2,000 req/s on two shared cores),
  // so what is measured is the limiter, not a saturated CPU.
  const requests = quick ? 100 : 200
  const windowMs = quick ? 500 : 1000
  const durationS = quick ? 1.6 : 6.5
  const connections = 100
  const upstream = bench.upstream
  const tollgate = await startTollgate(bench, tollgateConfig(upstream.ready, {
    rateLimit: { requests, window: `${windowMs}ms`, maxQueue: 10_000, maxWait: '30s' }
  }))
  try {
    // The token, then an empty window: the measured run starts from a full budget.
    const first = await fetch(`${tollgate.ready.url}${PREFIX}/small`)
    await first.arrayBuffer()
    await sleep(windowMs + 20)
    await upstream.call('record', { on: true })
    const cpuBefore = procCpuMs(tollgate.pid)
    const load = await runLoad(bench, loadOptions(`${tollgate.ready.url}${PREFIX}`, 'get', connections, durationS))
    const cpuMs = procCpuMs(tollgate.pid) - cpuBefore
    await upstream.call('record', { on: false })
    const starts = [...await upstream.call<Float64Array>('starts')]
    const status = await tollgate.call<TargetStatus>('status')
    const { violations, lateness } = windowCheck(starts, requests, windowMs)
    const achieved = achievedFraction(starts, requests, windowMs)
    return {
      requests,
      windowMs,
      durationS,
      connections,
      starts: starts.length,
      maxInWindow: maxInAnyWindow(starts, windowMs),
      violations,
      achieved: achieved.fraction,
      windows: achieved.windows,
      lateMin: Math.min(...lateness),
      lateP50: percentile(lateness, 50),
      lateP99: percentile(lateness, 99),
      lateMax: percentile(lateness, 100),
      rejected: status.limiter.counters.rejected,
      non2xx: load.non2xx,
      clientP50: load.p50,
      cpuMsPerRequest: cpuMs / Math.max(1, starts.length)
    }
  } finally {
    await upstream.call('record', { on: false })
    await tollgate.stop()
  }
}
