/**
 * prom-client's default process metrics, none of which wakes an idle
 * sidecar. `collectDefaultMetrics` starts perf_hooks' event-loop delay
 * monitor at a 10 ms resolution: a timer that woke the process 100 times a
 * second for its whole life, requests or not (docs/benchmarks.md,
 * *Footprint*). So each default metric is registered from prom-client's own
 * module, as collectDefaultMetrics does, all but the event-loop lag; the
 * same lag gauges come from a monitor that runs only while requests are
 * proxied: switched on by a proxied request, off after LAG_QUIET_MS without
 * one. A scrape reads what it sampled since the previous scrape; when it
 * sampled nothing (no request proxied) the lag gauges read 0: no request
 * waited. `nodejs_eventloop_lag_seconds` is one setImmediate's delay,
 * measured at each scrape, as prom-client measures it.
 */
import { createRequire } from 'node:module'
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks'
import { Counter, Gauge, type Registry } from './prom-client.js'

/** The event-loop delay monitor stops this long after the last proxied request. */
export const LAG_QUIET_MS = 10_000
/** Its sampling resolution, prom-client's default (`eventLoopMonitoringPrecision`). */
const LAG_RESOLUTION_MS = 10

/**
 * prom-client 15's default metrics (lib/defaultMetrics.js), by module, all
 * but eventLoopLag and processCpuTotal: start time, resident and virtual
 * memory, open and max file descriptors, active resources, handles and
 * requests, heap sizes and spaces, the Node.js version, and GC durations
 * (from GC events, not a timer). Process CPU is registered below.
 */
const DEFAULT_METRICS = ['processStartTime', 'osMemoryHeap', 'processOpenFileDescriptors', 'processMaxFileDescriptors',
  'processResources', 'processHandles', 'processRequests', 'heapSizeAndUsed', 'heapSpacesSizeAndUsed', 'version', 'gc'] as const

type RegisterDefault = (registry: Registry, config: { prefix: string }) => void

export interface LagMonitor {
  /** A request was proxied: measure the event loop's delay until LAG_QUIET_MS after the last one. */
  busy (): void
}

export function registerProcessMetrics (registry: Registry, prefix: string, quietMs = LAG_QUIET_MS): LagMonitor {
  registerCpuCounters(registry, prefix)
  const load = createRequire(import.meta.url)
  for (const name of DEFAULT_METRICS) (load(`prom-client/lib/metrics/${name}.js`) as RegisterDefault)(registry, { prefix })

  const histogram: IntervalHistogram = monitorEventLoopDelay({ resolution: LAG_RESOLUTION_MS })
  // Registered first: its collect sets the other lag gauges, and a scrape reads metrics in the order they were registered.
  const fromHistogram: Array<[Gauge, (h: IntervalHistogram) => number]> = []
  const lagNow = new Gauge({
    name: `${prefix}nodejs_eventloop_lag_seconds`,
    help: 'Lag of event loop in seconds.',
    registers: [registry],
    collect () {
      // As prom-client does: one setImmediate's delay, measured now, reported at the next scrape.
      const start = process.hrtime.bigint()
      setImmediate(() => lagNow.set(Number(process.hrtime.bigint() - start) / 1e9))
      // What the monitor sampled since the last scrape; 0 when it sampled nothing.
      for (const [g] of fromHistogram) g.set(0)
      if (histogram.count === 0) return
      for (const [g, read] of fromHistogram) g.set(read(histogram) / 1e9)
      histogram.reset()
    }
  })
  const gauge = (suffix: string, what: string): Gauge => new Gauge({ name: `${prefix}nodejs_eventloop_lag_${suffix}_seconds`, help: `The ${what} of the recorded event loop delays, while requests are proxied.`, registers: [registry] })
  fromHistogram.push(
    [gauge('min', 'minimum'), (h) => h.min],
    [gauge('max', 'maximum'), (h) => h.max],
    [gauge('mean', 'mean'), (h) => h.mean],
    [gauge('stddev', 'standard deviation'), (h) => h.stddev],
    [gauge('p50', '50th percentile'), (h) => h.percentile(50)],
    [gauge('p90', '90th percentile'), (h) => h.percentile(90)],
    [gauge('p99', '99th percentile'), (h) => h.percentile(99)]
  )

  let on = false
  let seen = false
  const watch = (): void => {
    setTimeout(() => {
      if (seen) {
        seen = false
        watch()
        return
      }
      histogram.disable()
      on = false
    }, quietMs).unref()
  }
  return {
    busy () {
      seen = true
      if (on) return
      on = true
      histogram.enable()
      watch()
    }
  }
}

/**
 * process_cpu_{user,system}_seconds_total and process_cpu_seconds_total, as
 * prom-client's processCpuTotal registers them (names, help, order, one
 * collect for all three), without that module: it requires
 * @opentelemetry/api at load, for exemplars tollgate does not enable
 * (src/ops/prom-client.ts).
 */
function registerCpuCounters (registry: Registry, prefix: string): void {
  let last = process.cpuUsage()
  const user = new Counter({
    name: `${prefix}process_cpu_user_seconds_total`,
    help: 'Total user CPU time spent in seconds.',
    registers: [registry],
    collect () {
      const now = process.cpuUsage()
      const userS = (now.user - last.user) / 1e6
      const systemS = (now.system - last.system) / 1e6
      last = now
      user.inc(userS)
      system.inc(systemS)
      total.inc(userS + systemS)
    }
  })
  const system = new Counter({ name: `${prefix}process_cpu_system_seconds_total`, help: 'Total system CPU time spent in seconds.', registers: [registry] })
  const total = new Counter({ name: `${prefix}process_cpu_seconds_total`, help: 'Total user and system CPU time spent in seconds.', registers: [registry] })
}
