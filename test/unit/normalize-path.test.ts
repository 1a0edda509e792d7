import { test, type TestContext } from 'node:test'
import { normalizeSuffix, PathRefusal } from '../../src/proxy/normalize-path.js'

test('plain suffixes pass through untouched, encoding and all', (t: TestContext) => {
  const cases = ['', '/', '/Patient', '/Patient/', '/Patient/123/_history/2', '/a%20b', '/a%2Fb', '/a%2fb', '/a%5cb', '/%E2%9C%93', '/a..b', '/...', '/a.', '/.well-known/x', '//x', '/a;b=c']
  t.plan(cases.length)
  for (const suffix of cases) t.assert.strictEqual(normalizeSuffix(suffix), suffix, suffix)
})

test('dot-segments inside the base are resolved as RFC 3986 §5.2.4 does', (t: TestContext) => {
  const cases: Array<[string, string]> = [
    ['/a/../b', '/b'],
    ['/a/./b', '/a/b'],
    ['/./a', '/a'],
    ['/a/b/../../c', '/c'],
    ['/a/..', '/'],
    ['/a/.', '/a/'],
    ['/a/b/..', '/a/'],
    ['/.', '/'],
    ['/a/%2e%2e/b', '/b'],
    ['/a/%2E/b', '/a/b'],
    ['/a/.%2e/b', '/b'],
    ['/a/%2e./b', '/b']
  ]
  t.plan(cases.length)
  for (const [suffix, expected] of cases) t.assert.strictEqual(normalizeSuffix(suffix), expected, suffix)
})

test('anything that climbs above the base is refused', (t: TestContext) => {
  const cases = ['/..', '/../x', '/a/../..', '/a/../../x', '/./../x', '/%2e%2e', '/%2E%2e/x', '/.%2E/x', '/a/b/../../../c']
  t.plan(cases.length * 2)
  for (const suffix of cases) {
    const result = normalizeSuffix(suffix)
    t.assert.ok(result instanceof PathRefusal, `${suffix} → ${String(result)}`)
    t.assert.match((result as PathRefusal).reason, /climbs above/)
  }
})

test('a dot-segment hidden behind an encoded slash or backslash is refused even when it would stay inside', (t: TestContext) => {
  const cases = ['/..%2fx', '/..%2Fx', '/x%2f..', '/a/%2f..%2f', '/%2e%2e%2fx', '/..%5cx', '/x%5C..', '/a/.%2f']
  t.plan(cases.length)
  for (const suffix of cases) t.assert.ok(normalizeSuffix(suffix) instanceof PathRefusal, suffix)
})

test('backslashes and encoded NUL are refused', (t: TestContext) => {
  const cases = ['/a\\b', '/..\\x', '\\..', '/a%00b']
  t.plan(cases.length)
  for (const suffix of cases) t.assert.ok(normalizeSuffix(suffix) instanceof PathRefusal, suffix)
})
