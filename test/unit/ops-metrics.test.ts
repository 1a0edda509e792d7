import { test, type TestContext } from 'node:test'
import { createMetrics } from '../../src/ops/metrics.js'

test('the duration histogram: both phases from startup at zero, seconds in inclusive buckets, a value that is no number left out', async (t: TestContext) => {
  const metrics = createMetrics()
  const meter = metrics.meter('vendor')
  const lines = async (): Promise<string[]> => (await metrics.registry.metrics()).split('\n')
  const before = await lines()
  t.assert.ok(before.includes('tollgate_request_duration_seconds_count{upstream="vendor",phase="sidecar"} 0'), 'sidecar series at startup')
  t.assert.ok(before.includes('tollgate_request_duration_seconds_count{upstream="vendor",phase="upstream"} 0'), 'upstream series at startup')

  meter.request('GET', 200, 1, 250)
  meter.request('GET', 200, 2.5, undefined)
  meter.request('GET', 502, Number.NaN, Number.NaN)
  const after = await lines()
  const has = (line: string): void => { t.assert.ok(after.includes(line), `${line}\n${after.filter((l) => l.includes('duration')).join('\n')}`) }
  has('tollgate_request_duration_seconds_bucket{le="0.001",upstream="vendor",phase="sidecar"} 1')
  has('tollgate_request_duration_seconds_bucket{le="0.0025",upstream="vendor",phase="sidecar"} 2')
  has('tollgate_request_duration_seconds_bucket{le="+Inf",upstream="vendor",phase="sidecar"} 2')
  has('tollgate_request_duration_seconds_sum{upstream="vendor",phase="sidecar"} 0.0035')
  has('tollgate_request_duration_seconds_count{upstream="vendor",phase="upstream"} 1')
  has('tollgate_request_duration_seconds_bucket{le="0.25",upstream="vendor",phase="upstream"} 1')
  has('tollgate_requests_total{upstream="vendor",method="GET",status_class="5xx"} 1')
})
