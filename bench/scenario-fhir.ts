/**
 * What `rewriteLinks: fhir` costs (issue 16, part 6): the same upstream
 * (bench/fhir-upstream.ts) through two tollgates that differ only in
 * `rewriteLinks`, `none` (plain) and `fhir` (rewriting).
 *
 * - Throughput, paired as in the throughput scenario (scenario-throughput.ts
 *   says why): both saturated at once with GETs of a 100-entry searchset
 *   Bundle, fresh processes each round; the ratio of their req/s is the
 *   ratio of their cost per request.
 * - A Bundle of about 200 MB (16 MB in quick mode), streamed by the vendor
 *   at a fixed rate, through a fresh process of each, one after the other:
 *   the rise of peak RSS (VmHWM) it causes, and when the app got the first
 *   body byte against when the vendor wrote its last. The app's copy is
 *   checked: its length must be the vendor's plus, for the rewriting one,
 *   the length change of every locator the vendor wrote.
 */
import { request as httpRequest } from 'node:http'
import { setTimeout as sleep } from 'node:timers/promises'
import { epochNow } from './child-ipc.js'
import type { StreamedBundle } from './fhir-bundle.js'
import { procMemory, resetPeakRss, startChild, type Child, type ProcMemory } from './proc.js'
import { loadTogether, proxyTarget } from './scenario-throughput.js'
import { PREFIX, startTollgate, tollgateConfig, type Bench, type TollgateChild } from './setup.js'

export const FHIR_VARIANTS = ['plain', 'rewriting'] as const
export type FhirVariant = typeof FHIR_VARIANTS[number]

const CONNECTIONS = 10
/** The vendor's pace for the large Bundle: slow enough that its last byte is written seconds after the first. */
const STREAM_RATE = 50 * 1024 * 1024
const LARGE_BYTES = 200 * 1024 * 1024
const QUICK_LARGE_BYTES = 16 * 1024 * 1024
/** Bound on one large Bundle's download. */
const DOWNLOAD_TIMEOUT_MS = 120_000
/** Requests of the 100-entry Bundle each fresh process serves before its memory is read: its code loaded, its token fetched. */
const WARM_REQUESTS = 50

export interface FhirPairedRun {
  readonly round: number
  readonly variant: FhirVariant
  readonly rps: number
  readonly cpuPerRequest: number
  readonly failed: number
}

export interface FhirLargeRun {
  readonly round: number
  readonly variant: FhirVariant
  /** The vendor's Bundle: bytes and locators written; first and last written, epoch ms. */
  readonly vendorBytes: number
  readonly locators: number
  readonly vendorFirstAt: number
  readonly vendorLastAt: number
  /** What the app got: bytes, and the epoch ms of its first and last body byte. */
  readonly appBytes: number
  readonly expectedBytes: number
  readonly appFirstAt: number
  readonly appLastAt: number
  /** The tollgate process before the Bundle (after its warm-up and a collection) and after it. */
  readonly before: ProcMemory
  readonly after: ProcMemory
  /** Whether the peak was set back to the resident set just before (`resetPeakRss`); if not, `after.peakRss` may be the start-up's. */
  readonly peakReset: boolean
}

export interface FhirResult {
  readonly searchBytes: number
  readonly connections: number
  readonly paired: FhirPairedRun[]
  readonly large: FhirLargeRun[]
  readonly largeBytes: number
  readonly rate: number
  readonly warmRequests: number
}

interface FhirUpstreamInfo { readonly origin: string, readonly base: string }

export async function runFhir (bench: Bench, progress: (line: string) => void): Promise<FhirResult> {
  const vendor = await startChild<FhirUpstreamInfo>(bench.main.outDir, 'fhir-upstream')
  const start = async (variant: FhirVariant): Promise<TollgateChild> => await startTollgate(bench, tollgateConfig(bench.upstream.ready, {
    upstream: { target: vendor.ready.base, rewriteLinks: variant === 'rewriting' ? 'fhir' : 'none' }
  }))
  const { rounds, quick } = bench.settings
  const largeBytes = quick ? QUICK_LARGE_BYTES : LARGE_BYTES
  try {
    const searchBytes = await vendor.call<number>('searchBytes')
    const paired: FhirPairedRun[] = []
    for (let round = 1; round <= rounds; round++) {
      // Started in turn first, so neither is always the first to be loaded.
      const order = round % 2 === 1 ? FHIR_VARIANTS : [...FHIR_VARIANTS].reverse()
      const children = await Promise.all(order.map(start))
      try {
        const targets = children.map((child, i) => proxyTarget(order[i] as FhirVariant, child))
        const loaded = await loadTogether(bench, targets, (target, seconds) => ({ url: `${target.base}/Patient`, connections: CONNECTIONS, durationS: seconds, method: 'GET' }))
        for (const { target, result, cpuPerRequest } of loaded) {
          const run: FhirPairedRun = { round, variant: target.name as FhirVariant, rps: result.rps, cpuPerRequest, failed: result.non2xx + result.errors + result.timeouts }
          paired.push(run)
          progress(`fhir 100-entry Bundle c=${CONNECTIONS} paired round ${round} ${run.variant}: ${Math.round(run.rps)} req/s, ${cpuPerRequest.toFixed(0)} µs CPU/req${run.failed > 0 ? `, ${run.failed} failed` : ''}`)
        }
      } finally {
        await Promise.all(children.map(async (child) => { await child.stop() }))
      }
    }
    const large: FhirLargeRun[] = []
    for (let round = 1; round <= rounds; round++) {
      for (const variant of round % 2 === 1 ? FHIR_VARIANTS : [...FHIR_VARIANTS].reverse()) {
        const run = await runLarge(vendor, await start(variant), variant, round, largeBytes)
        large.push(run)
        progress(`fhir ${mb(run.vendorBytes)} MB Bundle round ${round} ${variant}: peak RSS ${mb(run.before.peakRss)} -> ${mb(run.after.peakRss)} MB, first byte ${(run.appFirstAt - run.vendorFirstAt).toFixed(0)} ms after the vendor's first, ${(run.vendorLastAt - run.appFirstAt).toFixed(0)} ms before its last; ${run.appBytes === run.expectedBytes ? 'bytes as expected' : `${run.appBytes} bytes, ${run.expectedBytes} expected`}`)
      }
    }
    return { searchBytes, connections: CONNECTIONS, paired, large, largeBytes, rate: STREAM_RATE, warmRequests: WARM_REQUESTS }
  } finally {
    await vendor.stop()
  }
}

/** One large Bundle through a fresh tollgate, which is stopped after. */
async function runLarge (vendor: Child<FhirUpstreamInfo>, tollgate: TollgateChild, variant: FhirVariant, round: number, bytes: number): Promise<FhirLargeRun> {
  try {
    const base = `${tollgate.ready.url}${PREFIX}`
    for (let i = 0; i < WARM_REQUESTS; i++) await (await fetch(`${base}/Patient`)).arrayBuffer()
    // Collected, then the peak set to the resident set now: the peak after is what the large Bundle raised it to.
    await tollgate.call('mem', { gc: true })
    await sleep(100)
    const peakReset = resetPeakRss(tollgate.pid)
    const before = procMemory(tollgate.pid)
    const got = await download(`${base}/Patient/$everything?bytes=${bytes}&rate=${STREAM_RATE}`)
    const after = procMemory(tollgate.pid)
    const streamed = await vendor.call<StreamedBundle | undefined>('streamed')
    if (streamed?.complete !== true) throw new Error('fhir scenario: the vendor did not finish the large Bundle')
    const perLocator = variant === 'rewriting' ? base.length - vendor.ready.base.length : 0
    return {
      round,
      variant,
      vendorBytes: streamed.bytes,
      locators: streamed.locators,
      vendorFirstAt: streamed.firstWrittenAt,
      vendorLastAt: streamed.lastWrittenAt,
      appBytes: got.bytes,
      expectedBytes: streamed.bytes + streamed.locators * perLocator,
      appFirstAt: got.firstAt,
      appLastAt: got.lastAt,
      before,
      after,
      peakReset
    }
  } finally {
    await tollgate.stop()
  }
}

/** GET `url`, counting the body's bytes and noting when its first and last arrived (epoch ms). */
async function download (url: string): Promise<{ bytes: number, firstAt: number, lastAt: number }> {
  return await new Promise((resolve, reject) => {
    const req = httpRequest(url, { agent: false, signal: AbortSignal.timeout(DOWNLOAD_TIMEOUT_MS) }, (res) => {
      if (res.statusCode !== 200) {
        res.resume()
        reject(new Error(`fhir scenario: ${url} answered ${res.statusCode}`))
        return
      }
      let bytes = 0
      let firstAt = NaN
      res.on('data', (chunk: Buffer) => {
        if (bytes === 0) firstAt = epochNow()
        bytes += chunk.length
      })
      res.on('end', () => resolve({ bytes, firstAt, lastAt: epochNow() }))
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end()
  })
}

function mb (bytes: number): string {
  return (bytes / 1024 / 1024).toFixed(1)
}
