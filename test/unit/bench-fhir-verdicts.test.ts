import { test, type TestContext } from 'node:test'
import { verdicts, type Results } from '../../bench/report.js'
import type { FhirLargeRun, FhirPairedRun, FhirResult, FhirVariant } from '../../bench/scenario-fhir.js'

const MB = 1024 * 1024

/** Plain at 1000 req/s each round, rewriting at the given rates. */
function paired (rewriting: readonly number[]): FhirPairedRun[] {
  return rewriting.flatMap((rps, i) => [
    { round: i + 1, variant: 'plain' as const, rps: 1000, cpuPerRequest: 100, failed: 0 },
    { round: i + 1, variant: 'rewriting' as const, rps, cpuPerRequest: 100, failed: 0 }
  ])
}

/** One large run: the peak rose by `riseMb`; the app's first byte came `leadMs` before the vendor's last; `extra` bytes more than expected. */
function large (round: number, variant: FhirVariant, riseMb: number, leadMs: number, extra = 0): FhirLargeRun {
  return {
    round,
    variant,
    vendorBytes: 200 * MB,
    locators: 1000,
    vendorFirstAt: 1000,
    vendorLastAt: 5000,
    appBytes: 200 * MB + extra,
    expectedBytes: 200 * MB,
    appFirstAt: 5000 - leadMs,
    appLastAt: 5001,
    before: { rss: 100 * MB, peakRss: 100 * MB },
    after: { rss: 100 * MB, peakRss: (100 + riseMb) * MB },
    peakReset: true
  }
}

function results (ratios: readonly number[], runs: readonly FhirLargeRun[]): Results {
  const fhir: FhirResult = { searchBytes: 72 * 1024, connections: 10, paired: paired(ratios), large: [...runs], largeBytes: 200 * MB, rate: 50 * MB, warmRequests: 50 }
  return { fhir }
}

function verdictOf (r: Results, target: string): { measured: string, verdict: string } {
  const v = verdicts(r).find((x) => x.target === target)
  if (v === undefined) throw new Error(`no verdict for ${target}`)
  return v
}

const THROUGHPUT = 'fhir rewriting throughput, 100-entry Bundle'
const RSS = 'fhir rewriting peak RSS, 200 MB Bundle'
const FIRST_BYTE = 'fhir rewriting first byte, 200 MB Bundle'

test('fhir throughput is judged on the median of the paired rounds\' ratios', (t: TestContext) => {
  const ok = verdictOf(results([950, 880, 910], []), THROUGHPUT)
  t.assert.strictEqual(ok.verdict, 'PASS')
  t.assert.match(ok.measured, /^0\.91 \(0\.88…0\.95\)× /)
  t.assert.strictEqual(verdictOf(results([950, 880, 890], []), THROUGHPUT).verdict, 'FAIL')
})

test('fhir peak RSS is judged on the largest excess of a rewriting run\'s rise over the plain run\'s in the same round', (t: TestContext) => {
  const runs = [large(1, 'plain', 10, 3000), large(1, 'rewriting', 12, 3000), large(2, 'plain', 2, 3000), large(2, 'rewriting', 19, 3000)]
  t.assert.strictEqual(verdictOf(results([1000], runs.slice(0, 2)), RSS).verdict, 'PASS')
  const fail = verdictOf(results([1000], runs), RSS)
  t.assert.strictEqual(fail.verdict, 'FAIL')
  t.assert.match(fail.measured, /^2\.0, 17\.0 MB/)
  const wrongBytes = [large(1, 'plain', 1, 3000), large(1, 'rewriting', 1, 3000, 7)]
  t.assert.strictEqual(verdictOf(results([1000], wrongBytes), RSS).verdict, 'FAIL', 'a rewritten body of another length than expected fails it')
})

test('fhir first byte: every rewriting run must deliver its first byte before the vendor wrote its last', (t: TestContext) => {
  t.assert.strictEqual(verdictOf(results([1000], [large(1, 'plain', 1, 3000), large(1, 'rewriting', 1, 2500)]), FIRST_BYTE).verdict, 'PASS')
  t.assert.strictEqual(verdictOf(results([1000], [large(1, 'rewriting', 1, 2500), large(2, 'rewriting', 1, -5)]), FIRST_BYTE).verdict, 'FAIL')
})

test('fhir targets not run say so', (t: TestContext) => {
  for (const target of [THROUGHPUT, RSS, FIRST_BYTE]) t.assert.strictEqual(verdictOf({}, target).verdict, 'NOT RUN')
})
