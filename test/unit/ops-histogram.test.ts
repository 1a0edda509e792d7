import { test, type TestContext } from 'node:test'
import { Registry } from 'prom-client'
import { ScrapedHistogram } from '../../src/ops/histogram.js'

test('a scraped histogram exposes cumulative buckets, +Inf, sum and count per series', async (t: TestContext) => {
  const registry = new Registry()
  const histogram = new ScrapedHistogram({ name: 'x_seconds', help: 'test', buckets: [0.1, 1, 0.01], registers: [registry] })
  const a = histogram.series({ upstream: 'a' })
  const b = histogram.series({ upstream: 'b' })
  for (const value of [0.005, 0.01, 0.05, 0.5, 1, 7]) a.observe(value)
  a.observe(Number.NaN)
  b.observe(0.2)
  const text = await registry.metrics()
  const lines = text.split('\n')
  t.assert.ok(lines.includes('# TYPE x_seconds histogram'))
  // Bounds are sorted; a value equal to a bound falls in it (le = less or equal).
  t.assert.ok(lines.includes('x_seconds_bucket{upstream="a",le="0.01"} 2'), text)
  t.assert.ok(lines.includes('x_seconds_bucket{upstream="a",le="0.1"} 3'), text)
  t.assert.ok(lines.includes('x_seconds_bucket{upstream="a",le="1"} 5'), text)
  t.assert.ok(lines.includes('x_seconds_bucket{upstream="a",le="+Inf"} 6'), text)
  t.assert.ok(lines.includes('x_seconds_count{upstream="a"} 6'), text)
  t.assert.ok(lines.includes('x_seconds_sum{upstream="a"} 8.565'), text)
  t.assert.ok(lines.includes('x_seconds_bucket{upstream="b",le="0.1"} 0'), text)
  t.assert.ok(lines.includes('x_seconds_bucket{upstream="b",le="1"} 1'), text)

  registry.resetMetrics()
  t.assert.ok((await registry.metrics()).includes('x_seconds_count{upstream="a"} 0'))
})
