import { test, type TestContext } from 'node:test'
import { selectors } from '../helpers/promql.js'

test('metrics and their matcher labels are told from functions, aggregations, label lists, strings, numbers and ranges', (t: TestContext) => {
  t.plan(4)
  t.assert.deepStrictEqual(selectors(`
    # a comment naming not_a_metric
    sum by (upstream, le) (rate(tollgate_request_duration_seconds_bucket{phase="upstream", upstream=~"$upstream"}[$__rate_interval]))
      / on (upstream) group_left sum without (method) (tollgate_requests_total offset 5m) > bool 1.5e3
      and max(tollgate_limiter_limit) unless count(up{job='tollgate', note="a=b,c!~d"} @ start())
  `), [
    { name: 'tollgate_request_duration_seconds_bucket', labels: ['phase', 'upstream'] },
    { name: 'tollgate_requests_total', labels: [] },
    { name: 'tollgate_limiter_limit', labels: [] },
    { name: 'up', labels: ['job', 'note'] }
  ])
  t.assert.deepStrictEqual(selectors('time() - tollgate_token_expiry_timestamp_seconds > 0x10'), [{ name: 'tollgate_token_expiry_timestamp_seconds', labels: [] }])
  t.assert.deepStrictEqual(selectors('{__name__="tollgate_nope", upstream="x"}'), [{ name: 'tollgate_nope', labels: ['upstream'] }])
  t.assert.throws(() => selectors('rate(tollgate_requests_total{upstream="x}[5m])'), /unclosed/)
})
