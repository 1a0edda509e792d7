/**
 * The load generator, one process per run: autocannon, driven
 * programmatically, then one JSON line on stdout. Latency is also kept here
 * in a microsecond histogram (autocannon's own has whole-millisecond
 * buckets, too coarse for a "≤ 1 ms added" target), and, when asked, as a
 * series of (completion time, latency) pairs for the refresh scenario.
 */
import { createHistogram } from 'node:perf_hooks'
import autocannon from 'autocannon'
import { childArgument, epochNow } from './child-ipc.js'
import { summariseLoad, type LoadResult } from './load-result.js'

export interface LoadOptions {
  readonly url: string
  readonly connections: number
  readonly durationS: number
  readonly method: 'GET' | 'POST'
  /** POST body size in bytes (a JSON document of exactly this length). */
  readonly bodyBytes?: number
  /** Also return every response's completion time (epoch ms) and latency (ms), up to this many. */
  readonly seriesMax?: number
  /** Start at this epoch ms rather than at once: load processes forked together start together. */
  readonly startAt?: number
  /** Extra request headers (the limiter-redis scenario tags each tollgate's requests). */
  readonly headers?: Readonly<Record<string, string>>
}

function jsonBody (bytes: number): string {
  const head = '{"resourceType":"Bundle","entry":"'
  const tail = '"}'
  return head + 'x'.repeat(Math.max(0, bytes - head.length - tail.length)) + tail
}

const options = childArgument<LoadOptions>()
// Exits with the parent: a harness that died must not leave load running.
process.on('disconnect', () => process.exit(1))

const histogram = createHistogram()
const seriesMax = options.seriesMax ?? 0
const at: number[] = []
const latency: number[] = []
let ok = 0

await new Promise((resolve) => setTimeout(resolve, Math.max(0, (options.startAt ?? 0) - epochNow())))
const started = performance.now()
const instance = autocannon({
  url: options.url,
  connections: options.connections,
  duration: options.durationS,
  // autocannon stops on its sampling tick: a short tick keeps short runs short.
  sampleInt: 100,
  pipelining: 1,
  timeout: 10,
  method: options.method,
  ...(options.method === 'POST'
    ? { body: jsonBody(options.bodyBytes ?? 65_536), headers: { ...options.headers, 'content-type': 'application/json' } }
    : options.headers === undefined ? {} : { headers: { ...options.headers } })
}, (err, result) => {
  if (err !== null) {
    process.stderr.write(`load: ${err.message}\n`)
    process.exit(1)
  }
  const elapsedMs = performance.now() - started
  const out: LoadResult = {
    ...summariseLoad(histogram, { ok, non2xx: result.non2xx, errors: result.errors, timeouts: result.timeouts, elapsedMs }),
    ...(seriesMax > 0 ? { series: { at, latency } } : {})
  }
  process.stdout.write(`${JSON.stringify(out)}\n`, () => process.exit(0))
})

instance.on('response', (_client, statusCode, _bytes, responseTimeMs) => {
  if (statusCode < 200 || statusCode >= 300) return
  ok++
  histogram.record(Math.max(1, Math.round(responseTimeMs * 1000)))
  if (at.length < seriesMax) {
    at.push(epochNow())
    latency.push(responseTimeMs)
  }
})
