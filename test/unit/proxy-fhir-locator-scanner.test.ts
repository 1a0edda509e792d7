import { test, type TestContext } from 'node:test'
import fc from 'fast-check'
import { createBaseMatcher } from '../../src/proxy/base-url.js'
import { CONTEXT_CHARS, createBaseMatch, LocatorScanner } from '../../src/proxy/fhir-locator-scanner.js'

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
  t.assert.strictEqual(scan('{"reference":"\\u0068ttps://au-api.halaxy.com/m\\u0061in?x"}', [3]), `{"reference":"${APP}?x"}`, 'any character escaped')
  t.assert.strictEqual(scan('{"reference":"HTTPS:\\/\\/AU-API.HALAXY.COM\\/main\\u003Fx"}'), `{"reference":"${APP}\\u003Fx"}`, 'case and escapes together')
  t.assert.strictEqual(scan('{"display":"\\"reference\\":\\"https://au-api.halaxy.com/main/x"}'), '{"display":"\\"reference\\":\\"https://au-api.halaxy.com/main/x"}', 'not inside another string')
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

test('a chunk without a locator comes back as the very same buffer', (t: TestContext) => {
  const scanner = new LocatorScanner(createBaseMatch(new URL(UPSTREAM)), APP)
  const chunk = Buffer.from(`{"resourceType":"Patient","identifier":[{"system":"${UPSTREAM}/ids"}],"generalPractitioner":[{"reference":"Practitioner/1"}]}`)
  t.assert.strictEqual(scanner.write(chunk), chunk)
})

test('fullUrl and response.location are known by their keys (FHIR has them only in Bundle entries); url only in a link array', (t: TestContext) => {
  t.assert.strictEqual(scan(`{"fullUrl":"${UPSTREAM}/a","response":{"status":"200","location":"${UPSTREAM}/b"}}`), `{"fullUrl":"${APP}/a","response":{"status":"200","location":"${APP}/b"}}`)
  for (const text of [`{"location":"${UPSTREAM}/b"}`, `{"other":{"location":"${UPSTREAM}/b"}}`, `{"link":{"url":"${UPSTREAM}/c"}}`, `{"links":[{"url":"${UPSTREAM}/c"}]}`]) {
    t.assert.strictEqual(scan(text), text)
  }
})

test(`a link's url is told by its array within ${CONTEXT_CHARS} bytes before it; links further from their array's start are left alone`, (t: TestContext) => {
  const near = `{"link":[{"relation":"${'r'.repeat(CONTEXT_CHARS - 100)}","url":"${UPSTREAM}/a"}]}`
  t.assert.strictEqual(scan(near, [4096]), near.replace(`${UPSTREAM}/a`, `${APP}/a`))
  const far = `{"link":[{"relation":"${'r'.repeat(CONTEXT_CHARS + 100)}","url":"${UPSTREAM}/a"}]}`
  t.assert.strictEqual(scan(far, [4096]), far)
})

/** What the scan must do, computed on the parsed value: each locator string that points into the base, rebased. */
function rebased (value: unknown, key?: string, parentKey?: string, inLinkArray = false): unknown {
  if (Array.isArray(value)) return value.map((item) => rebased(item, undefined, undefined, key === 'link'))
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => {
      const locator = k === 'reference' || k === 'fullUrl' || (k === 'location' && key === 'response') || (k === 'url' && inLinkArray)
      const at = locator && typeof v === 'string' ? matchBase(v) : -1
      return [k, at === -1 ? rebased(v, k, key) : APP + (v as string).slice(at)]
    }))
  }
  return value
}
const matchBase = createBaseMatcher(new URL(UPSTREAM))

test('any document of locator-shaped fields, indented or not, escaped anyhow and split anywhere, rebases exactly the locators', (t: TestContext) => {
  const url = fc.constantFrom(`${UPSTREAM}/Patient/1`, UPSTREAM, `${UPSTREAM}?a=b`, `${UPSTREAM}#f`, 'HTTPS://Au-Api.HALAXY.com:443/main/x', '//au-api.halaxy.com/main/y',
    `${UPSTREAM}2/x`, 'https://au-api.halaxy.com/MAIN/x', 'http://au-api.halaxy.com/main/x', 'Patient/1', '')
  const key = fc.constantFrom('reference', 'fullUrl', 'url', 'location', 'link', 'entry', 'response', 'system', 'resource', 'other')
  const { node } = fc.letrec<{ node: unknown }>((tie) => ({
    node: fc.oneof({ depthSize: 'small', withCrossShrink: true },
      url, fc.string(), fc.integer(), fc.boolean(), fc.constant(null),
      fc.array(tie('node'), { maxLength: 4 }),
      fc.dictionary(key, tie('node'), { maxKeys: 5 }))
  }))
  // `/` and these letters occur only inside strings in JSON text, so escaping them there keeps the text valid.
  const escape = fc.array(fc.constantFrom('/', '\\/', '\\u002f', '\\u002F', 'h', '\\u0068', 'p', '\\u0070'), { minLength: 1, maxLength: 6 })
  const sizes = fc.array(fc.integer({ min: 1, max: 48 }), { minLength: 1, maxLength: 6 })
  fc.assert(fc.property(node, fc.constantFrom(undefined, 1, 2), escape, sizes, (value, indent, spellings, split) => {
    let n = 0
    const pick = (plain: string): string => {
      const options = spellings.filter((s) => s === plain || (s.startsWith('\\') && JSON.parse(`"${s}"`) === plain))
      return options.length === 0 ? plain : options[n++ % options.length] as string
    }
    const text = JSON.stringify(value, null, indent).replace(/[/hp]/g, pick)
    const whole = scan(text)
    return scan(text, split) === whole && JSON.stringify(JSON.parse(whole)) === JSON.stringify(rebased(JSON.parse(text)))
  }), { numRuns: 400 })
  t.assert.ok(true)
})

test('a long string of \\u escapes (a narrative as Python\'s json.dumps writes it) is scanned in linear time', (t: TestContext) => {
  // 4 MB of `\u00e9` in one string, in 64 KiB chunks as a socket gives them: each escape once looked back for its
  // string's opening quote and forward for its close, quadratic per chunk (about 6 s here, the event loop blocked
  // ~100 ms per chunk).
  const body = Buffer.from(`{"text":{"div":"${'\\u00e9'.repeat(700_000)}"},"reference":"${UPSTREAM}/Patient/1"}`)
  const scanner = new LocatorScanner(createBaseMatch(new URL(UPSTREAM)), APP)
  const out: Buffer[] = []
  const started = performance.now()
  for (let at = 0; at < body.length; at += 65536) out.push(scanner.write(body.subarray(at, at + 65536)))
  out.push(scanner.end())
  const elapsed = performance.now() - started
  t.assert.strictEqual(Buffer.concat(out).toString(), body.toString().replace(`"reference":"${UPSTREAM}`, `"reference":"${APP}`))
  t.assert.ok(elapsed < 1500, `${Math.round(elapsed)} ms`)
})

test('invalid JSON: a base followed by a broken escape is not the base at its end, and passes as it came', (t: TestContext) => {
  for (const text of [`{"reference":"${UPSTREAM}\\u00zz"}`, `{"reference":"${UPSTREAM}\\x/1"}`, `{"reference":"${UPSTREAM}\\u00e9x"}`]) {
    t.assert.strictEqual(scan(text), text)
    t.assert.strictEqual(scan(text, [1]), text)
  }
})
