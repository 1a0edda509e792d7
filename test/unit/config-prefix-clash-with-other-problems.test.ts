import { test, type TestContext } from 'node:test'
import { formatIssues } from '../../src/config/issues.js'
import { resolveConfig } from '../../src/config/load.js'

const TARGET = 'http://127.0.0.1:9'

function problems (raw: unknown): string[] {
  return formatIssues(resolveConfig(raw, { env: {} }).issues ?? []).split('\n').sort()
}

// `check` prints every problem: two upstreams on one prefix was only reported when both
// upstreams were otherwise valid, so fixing a typo in one revealed the clash on the next run.
test('two upstreams on one prefix are reported even when either has another problem', (t: TestContext) => {
  t.plan(3)
  t.assert.deepStrictEqual(problems({ upstreams: { a: { target: TARGET, timeout: 'soon' }, b: { target: TARGET, prefix: '/a/' } } }), [
    'upstreams.a.timeout: must be a duration: seconds, or a number with ms, s, m or h (250ms, 30s, 15m, 1h)',
    'upstreams.b.prefix: is already the prefix of upstreams.a'
  ])
  t.assert.deepStrictEqual(problems({ upstreams: { a: { target: TARGET }, b: { prefix: '/a', auth: { type: 'static_bearer' } } } }), [
    'upstreams.b.auth.token: required',
    'upstreams.b.prefix: is already the prefix of upstreams.a',
    'upstreams.b.target: required'
  ])
  // A prefix that is itself malformed is reported as such, and claims nothing.
  t.assert.deepStrictEqual(problems({ upstreams: { a: { target: TARGET, prefix: 'a' }, b: { target: TARGET, prefix: 'a' } } }), [
    'upstreams.a.prefix: must be a path of plain segments, e.g. /halaxy',
    'upstreams.b.prefix: must be a path of plain segments, e.g. /halaxy'
  ])
})
