/**
 * The process metrics (src/ops/process-metrics.ts): every metric name
 * prom-client's collectDefaultMetrics registers, and an event-loop delay
 * monitor that samples only after a proxied request, until a quiet spell
 * without one (made short here): before the first request and after the
 * quiet spell the lag gauges read 0, because nothing was sampled.
 */
import { test, type TestContext } from 'node:test'
import { collectDefaultMetrics, Registry } from 'prom-client'
import { registerProcessMetrics } from '../../src/ops/process-metrics.js'

const QUIET_MS = 150
const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }

/** Whether the p99 lag gauge read a sampled delay at this scrape (a delay is never 0). */
async function lagSampled (registry: Registry): Promise<boolean> {
  // A whole scrape, as Prometheus makes it: the lag gauges are set by one collect for all of them.
  const text = await registry.metrics()
  const value = /^x_nodejs_eventloop_lag_p99_seconds (\S+)$/m.exec(text)?.[1]
  return value !== undefined && Number(value) > 0
}

test('the same metric names as prom-client\'s defaults', async (t: TestContext) => {
  const ours = new Registry()
  registerProcessMetrics(ours, 'x_', QUIET_MS)
  const theirs = new Registry()
  collectDefaultMetrics({ register: theirs, prefix: 'x_' })
  const names = (registry: Registry): string[] => registry.getMetricsAsArray().map((metric) => metric.name).sort()
  t.assert.deepStrictEqual(names(ours), names(theirs))
  const text = await ours.metrics()
  for (const name of ['x_process_resident_memory_bytes', 'x_process_cpu_seconds_total', 'x_nodejs_heap_size_used_bytes', 'x_nodejs_version_info', 'x_process_open_fds']) {
    t.assert.match(text, new RegExp(`^${name}(\\{[^}]*\\})? `, 'm'), `${name} has no value`)
  }
})

test('process CPU: prom-client\'s three counters, same help, counting this process\'s CPU time', async (t: TestContext) => {
  const ours = new Registry()
  registerProcessMetrics(ours, 'x_', QUIET_MS)
  const theirs = new Registry()
  collectDefaultMetrics({ register: theirs, prefix: 'x_' })
  const cpu = (registry: Registry): Array<[string, string]> => registry.getMetricsAsArray().filter((m) => m.name.startsWith('x_process_cpu_')).map((m) => [m.name, m.help])
  t.assert.deepStrictEqual(cpu(ours), cpu(theirs))
  const read = async (): Promise<Record<string, number>> => Object.fromEntries([...(await ours.metrics()).matchAll(/^(x_process_cpu_\w+) (\S+)$/gm)].map((m) => [m[1] as string, Number(m[2])]))
  const before = await read()
  const started = process.cpuUsage()
  while (process.cpuUsage(started).user < 50_000) Math.sqrt(Math.random())
  const after = await read()
  const spent = (name: string): number => (after[name] ?? NaN) - (before[name] ?? NaN)
  t.assert.ok(spent('x_process_cpu_user_seconds_total') >= 0.05, `user CPU grew by ${spent('x_process_cpu_user_seconds_total')} s`)
  t.assert.ok(spent('x_process_cpu_system_seconds_total') >= 0)
  t.assert.ok(Math.abs(spent('x_process_cpu_seconds_total') - spent('x_process_cpu_user_seconds_total') - spent('x_process_cpu_system_seconds_total')) < 1e-9, 'the total is user + system')
})

test('event-loop lag is sampled from a proxied request until a quiet spell, not before, not after', async (t: TestContext) => {
  t.plan(5)
  const registry = new Registry()
  const lag = registerProcessMetrics(registry, 'x_', QUIET_MS)
  await sleep(100)
  t.assert.strictEqual(await lagSampled(registry), false, 'sampled before any request')

  lag.busy()
  await sleep(100)
  t.assert.strictEqual(await lagSampled(registry), true, 'not sampled while requests are proxied')

  // Off between QUIET_MS and twice that after the last request; what it sampled until then is scraped once.
  await sleep(3 * QUIET_MS)
  await lagSampled(registry)
  await sleep(150)
  t.assert.strictEqual(await lagSampled(registry), false, 'still sampling after a quiet spell')

  lag.busy()
  lag.busy()
  await sleep(100)
  t.assert.strictEqual(await lagSampled(registry), true, 'not sampling again after the next request')
  await sleep(3 * QUIET_MS)
  await lagSampled(registry)
  await sleep(150)
  t.assert.strictEqual(await lagSampled(registry), false, 'still sampling after the second quiet spell')
})
