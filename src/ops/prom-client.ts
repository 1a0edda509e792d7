/**
 * prom-client's metric classes, each from its own module rather than from
 * the package's index. The index loads everything prom-client has: the
 * Pushgateway (http, https, zlib), the cluster aggregator, Summary and its
 * t-digest, and every default metric, one of which (processCpuTotal)
 * requires @opentelemetry/api at load for exemplars that tollgate does not
 * enable. None of it is used here; loading it took about 3 % of the
 * instructions from spawn to the first proxied 200 (valgrind, the image's
 * bundle; docs/benchmarks.md, *Footprint*), and loaded OpenTelemetry into a
 * sidecar that does not trace. The classes are the ones the index exports,
 * the same module objects (test/unit/ops-process-metrics.test.ts mixes them
 * with the index's). Types from the package, as its index declares them.
 */
import { createRequire } from 'node:module'
import type * as PromClient from 'prom-client'

const load = createRequire(import.meta.url)

export const Registry = load('prom-client/lib/registry.js') as typeof PromClient.Registry
export const Counter = load('prom-client/lib/counter.js') as typeof PromClient.Counter
export const Gauge = load('prom-client/lib/gauge.js') as typeof PromClient.Gauge
export const Histogram = load('prom-client/lib/histogram.js') as typeof PromClient.Histogram
// Each name is a value and its instance type, as a class's is: the consumers use both.
/* eslint-disable @typescript-eslint/no-redeclare */
export type Registry = PromClient.Registry
export type Counter<T extends string = string> = PromClient.Counter<T>
export type Gauge<T extends string = string> = PromClient.Gauge<T>
export type Histogram<T extends string = string> = PromClient.Histogram<T>
/* eslint-enable @typescript-eslint/no-redeclare */
