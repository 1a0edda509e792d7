import { test, type TestContext } from 'node:test'
import { createBaseMatcher } from '../../src/proxy/base-url.js'

test('inside the base: the base followed by /, ?, # or the end; scheme and host in any case; a default port equals none', (t: TestContext) => {
  const match = createBaseMatcher(new URL('https://au-api.halaxy.com/main'))
  const base = 'https://au-api.halaxy.com/main'
  t.assert.strictEqual(match(`${base}/Patient/1`), base.length)
  t.assert.strictEqual(match(base), base.length)
  t.assert.strictEqual(match(`${base}?a=1`), base.length)
  t.assert.strictEqual(match(`${base}#x`), base.length)
  t.assert.strictEqual(match('HTTPS://AU-API.Halaxy.com/main/Patient'), base.length)
  t.assert.strictEqual(match('https://au-api.halaxy.com:443/main/Patient'), base.length + 4)
  t.assert.strictEqual(match('//au-api.halaxy.com/main/Patient'), '//au-api.halaxy.com/main'.length)
})

test('outside the base: another path, scheme, host, port, or userinfo', (t: TestContext) => {
  const match = createBaseMatcher(new URL('https://au-api.halaxy.com/main'))
  for (const url of [
    'https://au-api.halaxy.com/main2/Patient',
    'https://au-api.halaxy.com/MAIN/Patient',
    'https://au-api.halaxy.com/',
    'http://au-api.halaxy.com/main/Patient',
    'https://au-api.halaxy.com.evil.example/main/Patient',
    'https://au-api.halaxy.com:8443/main/Patient',
    'https://user@au-api.halaxy.com/main/Patient',
    'Patient/1',
    'urn:uuid:1'
  ]) t.assert.strictEqual(match(url), -1, url)
})

test('a base with a port and no path; IPv6 hosts', (t: TestContext) => {
  const match = createBaseMatcher(new URL('http://127.0.0.1:8080'))
  t.assert.strictEqual(match('http://127.0.0.1:8080/x'), 'http://127.0.0.1:8080'.length)
  t.assert.strictEqual(match('http://127.0.0.1/x'), -1)
  const v6 = createBaseMatcher(new URL('http://[::1]:81/api'))
  t.assert.strictEqual(v6('http://[::1]:81/api/x'), 'http://[::1]:81/api'.length)
  t.assert.strictEqual(v6('http://[::1]/api/x'), -1)
})
