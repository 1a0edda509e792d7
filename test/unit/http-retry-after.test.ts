import { test, type TestContext } from 'node:test'
import { capRetryAfter, DEFAULT_RETRY_AFTER_MS, MAX_RETRY_AFTER_MS, parseRetryAfter } from '../../src/http/retry-after.js'

// Sun, 06 Nov 1994 08:49:37 GMT, the RFC 9110 example.
const NOW = Date.UTC(1994, 10, 6, 8, 49, 37)

test('delta-seconds', (t: TestContext) => {
  t.assert.strictEqual(parseRetryAfter('120', NOW), 120_000)
  t.assert.strictEqual(parseRetryAfter('0', NOW), 0)
  t.assert.strictEqual(parseRetryAfter(' 7 ', NOW), 7000)
  t.assert.strictEqual(parseRetryAfter('1.5', NOW), 1500, 'fractions are read, not refused')
  t.assert.strictEqual(parseRetryAfter('9'.repeat(400), NOW), Number.MAX_SAFE_INTEGER, 'huge stays finite')
})

test('IMF-fixdate in the future and in the past', (t: TestContext) => {
  t.assert.strictEqual(parseRetryAfter('Sun, 06 Nov 1994 08:50:07 GMT', NOW), 30_000)
  t.assert.strictEqual(parseRetryAfter('Sun, 06 Nov 1994 08:49:37 GMT', NOW), 0)
  t.assert.strictEqual(parseRetryAfter('Sat, 05 Nov 1994 08:49:37 GMT', NOW), 0, 'a past date means now, never negative')
})

test('the obsolete RFC 850 and asctime forms', (t: TestContext) => {
  t.assert.strictEqual(parseRetryAfter('Sunday, 06-Nov-94 08:50:37 GMT', NOW), 60_000)
  t.assert.strictEqual(parseRetryAfter('Sun Nov  6 08:51:37 1994', NOW), 120_000)
  const in2031 = Date.UTC(2031, 0, 1)
  // "99" from 2031 is 2099, more than 50 years ahead, so it is 1999: the past.
  t.assert.strictEqual(parseRetryAfter('Friday, 01-Jan-99 00:00:00 GMT', in2031), 0)
  t.assert.strictEqual(parseRetryAfter('Wednesday, 01-Jan-31 00:00:10 GMT', in2031), 10_000)
})

test('garbage and absent values give the 1 s default', (t: TestContext) => {
  for (const garbage of ['', 'soon', '-5', '1e3', '0x10', 'Sun, 31 Feb 1994 08:49:37 GMT', 'Sun, 06 Nov 1994 25:00:00 GMT', '2030-01-01T00:00:00Z', 'Sun, 06 Nov 1994 08:49:37 PST']) {
    t.assert.strictEqual(parseRetryAfter(garbage, NOW), DEFAULT_RETRY_AFTER_MS, JSON.stringify(garbage))
  }
  t.assert.strictEqual(parseRetryAfter(undefined, NOW), DEFAULT_RETRY_AFTER_MS)
  t.assert.strictEqual(parseRetryAfter([], NOW), DEFAULT_RETRY_AFTER_MS)
})

test('a repeated header: the longest readable value wins', (t: TestContext) => {
  t.assert.strictEqual(parseRetryAfter(['2', 'Sun, 06 Nov 1994 08:49:42 GMT', 'bogus'], NOW), 5000)
  t.assert.strictEqual(parseRetryAfter(['bogus', '3'], NOW), 3000)
  t.assert.strictEqual(parseRetryAfter(['bogus', 'worse'], NOW), DEFAULT_RETRY_AFTER_MS)
})

test('capping tells the caller it happened', (t: TestContext) => {
  t.assert.deepStrictEqual(capRetryAfter(5000), { ms: 5000, capped: false })
  t.assert.deepStrictEqual(capRetryAfter(MAX_RETRY_AFTER_MS), { ms: MAX_RETRY_AFTER_MS, capped: false })
  t.assert.deepStrictEqual(capRetryAfter(parseRetryAfter('86400', NOW)), { ms: MAX_RETRY_AFTER_MS, capped: true })
  t.assert.deepStrictEqual(capRetryAfter(90_000, 60_000), { ms: 60_000, capped: true })
})
