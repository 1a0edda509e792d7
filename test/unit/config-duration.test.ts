import { test, type TestContext } from 'node:test'
import { parseDuration, parseSize } from '../../src/config/duration.js'
import { resolveConfig } from '../../src/config/load.js'

test('durations: 250ms, 30s, 15m, 1h and plain seconds → ms', (t: TestContext) => {
  t.plan(9)
  t.assert.strictEqual(parseDuration('250ms'), 250)
  t.assert.strictEqual(parseDuration('30s'), 30_000)
  t.assert.strictEqual(parseDuration('15m'), 900_000)
  t.assert.strictEqual(parseDuration('1h'), 3_600_000)
  t.assert.strictEqual(parseDuration(30), 30_000, 'a number is seconds')
  t.assert.strictEqual(parseDuration(0.25), 250)
  t.assert.strictEqual(parseDuration(0), 0)
  t.assert.strictEqual(parseDuration('1.5s'), 1500)
  t.assert.strictEqual(parseDuration(' 10s '), 10_000)
})

test('not durations: units it does not know, negatives, garbage, other types', (t: TestContext) => {
  t.plan(9)
  for (const bad of ['10d', '-1s', '1 hour', 'abc', '', 's', -1, Number.NaN, true]) {
    t.assert.strictEqual(parseDuration(bad), undefined, String(bad))
  }
})

test('sizes: bytes, kb, mb, gb with k = 1024, any case', (t: TestContext) => {
  t.plan(8)
  t.assert.strictEqual(parseSize(1024), 1024)
  t.assert.strictEqual(parseSize('1024'), 1024)
  t.assert.strictEqual(parseSize('512kb'), 512 * 1024)
  t.assert.strictEqual(parseSize('10mb'), 10 * 1024 * 1024)
  t.assert.strictEqual(parseSize('1gb'), 1024 ** 3)
  t.assert.strictEqual(parseSize('10MB'), 10 * 1024 * 1024)
  t.assert.strictEqual(parseSize('100b'), 100)
  t.assert.strictEqual(parseSize(Infinity), undefined)
})

test('not sizes', (t: TestContext) => {
  t.plan(5)
  for (const bad of ['10tb', '-1kb', 'big', 1.5, -1]) t.assert.strictEqual(parseSize(bad), undefined, String(bad))
})

test('config fields take durations and sizes, and a bad one is reported at its path', (t: TestContext) => {
  t.plan(6)
  const ok = resolveConfig({ server: { shutdownGrace: 3, bodyLimit: '512kb', headersTimeout: '250ms' }, upstreams: { a: { target: 'http://127.0.0.1:9', timeout: '15m', bodyLimit: 100 } } }, { env: {} })
  t.assert.strictEqual(ok.config?.server.shutdownGraceMs, 3000)
  t.assert.strictEqual(ok.config?.server.bodyLimit, 512 * 1024)
  t.assert.strictEqual(ok.config?.server.headersTimeoutMs, 250)
  t.assert.strictEqual(ok.config?.upstreams[0]?.timeoutMs, 900_000)
  t.assert.strictEqual(ok.config?.upstreams[0]?.bodyLimit, 100)
  const bad = resolveConfig({ server: { shutdownGrace: '10 days', bodyLimit: '10tb' }, upstreams: { a: { target: 'http://127.0.0.1:9', timeout: '0s' } } }, { env: {} })
  t.assert.deepStrictEqual(bad.issues?.map((issue) => issue.path).sort(), ['server.bodyLimit', 'server.shutdownGrace', 'upstreams.a.timeout'])
})
