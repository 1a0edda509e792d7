import { test, type TestContext } from 'node:test'
import fc from 'fast-check'
import { createBaseMatch, LocatorScanner } from '../../src/proxy/fhir-locator-scanner.js'

const UPSTREAM = 'https://au-api.halaxy.com/main'
const APP = 'http://127.0.0.1:8080/halaxy'

/** The scan of `text` fed in the given chunk sizes (cycled), as one string. */
function scan (text: string, sizes: readonly number[] = [text.length || 1]): string {
  const scanner = new LocatorScanner(createBaseMatch(new URL(UPSTREAM)), APP)
  const input = Buffer.from(text)
  const out: Buffer[] = []
  for (let at = 0, n = 0; at < input.length; n++) {
    const size = Math.max(1, sizes[n % sizes.length] as number)
    out.push(scanner.write(input.subarray(at, at + size)))
    at += size
  }
  out.push(scanner.end())
  return Buffer.concat(out).toString()
}

const BUNDLE = JSON.stringify({
  resourceType: 'Bundle',
  type: 'searchset',
  meta: { profile: [`${UPSTREAM}/StructureDefinition/x`] },
  link: [{ relation: 'self', url: `${UPSTREAM}/Patient?_count=2` }, { relation: 'next', url: `${UPSTREAM}/Patient?_count=2&page=2` }],
  entry: [{
    fullUrl: `${UPSTREAM}/Patient/1`,
    resource: {
      resourceType: 'Patient',
      id: '1',
      url: `${UPSTREAM}/canonical`,
      identifier: [{ system: `${UPSTREAM}/ids`, value: `${UPSTREAM}/Patient/1` }],
      extension: [{ url: `${UPSTREAM}/ext`, valueString: 'x' }],
      generalPractitioner: [{ reference: `${UPSTREAM}/Practitioner/7`, display: `${UPSTREAM}/Practitioner/7` }],
      link: [{ other: { reference: 'Patient/2' }, type: 'seealso' }]
    },
    response: { status: '201', location: `${UPSTREAM}/Patient/1/_history/1` },
    search: { mode: 'match' }
  }]
}, null, 1)

const EXPECTED = BUNDLE
  .replace(`"url": "${UPSTREAM}/Patient?_count=2"`, `"url": "${APP}/Patient?_count=2"`)
  .replace(`"url": "${UPSTREAM}/Patient?_count=2&page=2"`, `"url": "${APP}/Patient?_count=2&page=2"`)
  .replace(`"fullUrl": "${UPSTREAM}/Patient/1"`, `"fullUrl": "${APP}/Patient/1"`)
  .replace(`"reference": "${UPSTREAM}/Practitioner/7"`, `"reference": "${APP}/Practitioner/7"`)
  .replace(`"location": "${UPSTREAM}/Patient/1/_history/1"`, `"location": "${APP}/Patient/1/_history/1"`)

test('only locator fields change: link[].url, entry[].fullUrl, entry[].response.location, reference', (t: TestContext) => {
  t.assert.notStrictEqual(EXPECTED, BUNDLE)
  t.assert.strictEqual(scan(BUNDLE), EXPECTED)
  const parsed = JSON.parse(scan(BUNDLE)) as { meta: { profile: string[] }, entry: Array<{ resource: Record<string, unknown> }> }
  t.assert.deepStrictEqual(parsed.meta.profile, [`${UPSTREAM}/StructureDefinition/x`], 'profile untouched')
  t.assert.strictEqual(parsed.entry[0]?.resource.url, `${UPSTREAM}/canonical`, 'a canonical url untouched')
})

test('one byte per chunk, and any other split, gives the same bytes', (t: TestContext) => {
  t.assert.strictEqual(scan(BUNDLE, [1]), EXPECTED)
  t.assert.strictEqual(scan(BUNDLE, [2, 3, 5, 7]), EXPECTED)
  fc.assert(fc.property(fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 20 }), (sizes) => scan(BUNDLE, sizes) === EXPECTED))
})

test('JSON escapes match on their decoded value; the rest of the string keeps its bytes', (t: TestContext) => {
  t.assert.strictEqual(scan('{"reference":"https:\\/\\/au-api.halaxy.com\\/main\\/Patient\\/1"}'), `{"reference":"${APP}\\/Patient\\/1"}`)
  t.assert.strictEqual(scan('{"reference":"https:\\u002f\\u002fau-api.halaxy.com\\u002Fmain/Patient/1"}', [1]), `{"reference":"${APP}/Patient/1"}`)
  t.assert.strictEqual(scan('{"ref\\u0065rence":"https://au-api.halaxy.com/main/Patient/1"}'), `{"ref\\u0065rence":"${APP}/Patient/1"}`, 'an escaped key is the same key')
  t.assert.strictEqual(scan('{"reference":"https://au-api.halaxy.com/main/P\\"\\u00e9"}', [1]), `{"reference":"${APP}/P\\"\\u00e9"}`)
})

test('the base must end at /, ?, # or the string\'s end; case and default port do not matter', (t: TestContext) => {
  t.assert.strictEqual(scan('{"reference":"https://au-api.halaxy.com/main2/Patient/1"}'), '{"reference":"https://au-api.halaxy.com/main2/Patient/1"}')
  t.assert.strictEqual(scan('{"reference":"https://au-api.halaxy.com/main"}'), `{"reference":"${APP}"}`)
  t.assert.strictEqual(scan('{"reference":"HTTPS://AU-API.HALAXY.COM:443/main?x"}'), `{"reference":"${APP}?x"}`)
  t.assert.strictEqual(scan('{"reference":"Patient/1"}'), '{"reference":"Patient/1"}', 'relative references are already the app\'s')
  t.assert.strictEqual(scan('{"reference":"https://au-api.halaxy.com:8443/main/x"}'), '{"reference":"https://au-api.halaxy.com:8443/main/x"}')
  t.assert.strictEqual(scan('{"reference":"https://au-api.halaxy.com/MAIN/x"}'), '{"reference":"https://au-api.halaxy.com/MAIN/x"}', 'the path compares exactly')
  t.assert.strictEqual(scan('{"reference":"//au-api.halaxy.com/main/x"}'), `{"reference":"${APP}/x"}`, 'scheme-relative')
  t.assert.strictEqual(scan('{"reference":"https://user@au-api.halaxy.com/main/x"}'), '{"reference":"https://user@au-api.halaxy.com/main/x"}')
})

test('long strings and long keys pass with bounded holding; a long locator is still rewritten', (t: TestContext) => {
  const long = 'x'.repeat(100_000)
  const scanner = new LocatorScanner(createBaseMatch(new URL(UPSTREAM)), APP)
  const head = scanner.write(Buffer.from(`{"${long}":"a","reference":"${UPSTREAM}/Binary/${long}`))
  t.assert.ok(head.length > 200_000 - 1000, 'nearly everything came out before the string ended')
  const text = Buffer.concat([head, scanner.write(Buffer.from('"}')), scanner.end()]).toString()
  t.assert.strictEqual(text, `{"${long}":"a","reference":"${APP}/Binary/${long}"}`)
})

test('non-string values, arrays of strings, nesting and truncated input', (t: TestContext) => {
  const text = '{"a":[1,true,null,"reference",{"reference":"https://au-api.halaxy.com/main/A/1"}],"reference":{"reference":"https://au-api.halaxy.com/main/B"}}'
  t.assert.strictEqual(scan(text, [1]), text.replaceAll(UPSTREAM, APP))
  t.assert.strictEqual(scan('{"reference":"https://au-api.hal', [1]), '{"reference":"https://au-api.hal', 'a truncated body ends as it came')
})

test('any JSON, split anywhere, scans to the same bytes; without a base in it, to its own bytes', (t: TestContext) => {
  const withLocators = fc.record({
    link: fc.array(fc.record({ relation: fc.string(), url: fc.oneof(fc.constant(`${UPSTREAM}/Patient?page=2`), fc.webUrl()) })),
    entry: fc.array(fc.record({ fullUrl: fc.constant(`${UPSTREAM}/Patient/1`), resource: fc.jsonValue(), response: fc.record({ location: fc.constant(`${UPSTREAM}/P/1/_history/1`) }) })),
    reference: fc.oneof(fc.constant(`${UPSTREAM}/X/1`), fc.string())
  }).map((value) => JSON.stringify(value))
  const sizes = fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 8 })
  fc.assert(fc.property(fc.json(), sizes, (text, split) => scan(text, split) === text))
  fc.assert(fc.property(withLocators, sizes, (text, split) => {
    const whole = scan(text)
    return scan(text, split) === whole && !whole.includes(`"fullUrl":"${UPSTREAM}`) && !whole.includes(`"location":"${UPSTREAM}`)
  }))
  t.assert.ok(true)
})
