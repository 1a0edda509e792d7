/**
 * A Prometheus histogram whose per-request work is an array increment.
 * prom-client's Histogram hashes its label set on every observe(), bound
 * children included (3 µs per request in the profile, docs/benchmarks.md);
 * here each label set is bound once to a series of plain counts, and the
 * registry turns them into exposition values only when /metrics is scraped.
 * It registers like any prom-client metric (Registry calls get()).
 */
import type { Registry } from 'prom-client'

/** One label set's counts: observe() is the hot path. */
export interface HistogramSeries {
  observe (value: number): void
}

interface Series extends HistogramSeries {
  readonly labels: Readonly<Record<string, string>>
  /** Per bucket, not cumulative; the last slot is +Inf. */
  readonly counts: Float64Array
  sum: number
  count: number
}

interface ExportedValue {
  readonly labels: Readonly<Record<string, string | number>>
  readonly value: number
  readonly metricName: string
}

export class ScrapedHistogram {
  readonly name: string
  readonly help: string
  readonly type = 'histogram'
  readonly aggregator = 'sum'
  readonly #bounds: readonly number[]
  readonly #series: Series[] = []

  constructor (options: { name: string, help: string, buckets: readonly number[], registers: readonly Registry[] }) {
    this.name = options.name
    this.help = options.help
    this.#bounds = [...options.buckets].sort((a, b) => a - b)
    for (const registry of options.registers) registry.registerMetric(this as never)
  }

  /** A series for these labels, bound once (at startup): its observe() never looks anything up. */
  series (labels: Readonly<Record<string, string>>): HistogramSeries {
    const bounds = this.#bounds
    const series: Series = {
      labels: { ...labels },
      counts: new Float64Array(bounds.length + 1),
      sum: 0,
      count: 0,
      observe (value) {
        if (!Number.isFinite(value)) return
        let i = 0
        while (i < bounds.length && value > (bounds[i] as number)) i++
        series.counts[i] = (series.counts[i] as number) + 1
        series.sum += value
        series.count++
      }
    }
    this.#series.push(series)
    return series
  }

  async get (): Promise<{ name: string, help: string, type: string, aggregator: string, values: ExportedValue[] }> {
    const values: ExportedValue[] = []
    const bucketName = `${this.name}_bucket`
    for (const series of this.#series) {
      let cumulative = 0
      for (let i = 0; i < this.#bounds.length; i++) {
        cumulative += series.counts[i] as number
        values.push({ labels: { ...series.labels, le: this.#bounds[i] as number }, value: cumulative, metricName: bucketName })
      }
      values.push({ labels: { ...series.labels, le: '+Inf' }, value: series.count, metricName: bucketName })
      values.push({ labels: series.labels, value: series.sum, metricName: `${this.name}_sum` })
      values.push({ labels: series.labels, value: series.count, metricName: `${this.name}_count` })
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values }
  }

  reset (): void {
    for (const series of this.#series) {
      series.counts.fill(0)
      series.sum = 0
      series.count = 0
    }
  }
}
