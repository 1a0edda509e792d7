import { test, type TestContext } from 'node:test'
import { arrayStartBack, escaped, keyBack, NONE, objectStartBack, OUT, valueStartBack } from '../../src/proxy/json-backward.js'

/** The index of the `n`th (0-based) occurrence of `needle` in `text`. */
function at (text: string, needle: string, n = 0): number {
  let i = -1
  for (let k = 0; k <= n; k++) i = text.indexOf(needle, i + 1)
  if (i === -1) throw new Error(`no ${needle} #${n}`)
  return i
}

test('the key of a value, read backwards; an array element or the top level has none', (t: TestContext) => {
  const text = '{"a" : "x", "b":["y"], "ref\\u0065rence":"z"}'
  t.assert.strictEqual(keyBack(text, at(text, '"x"'), 0, 64), at(text, '"a"'))
  t.assert.strictEqual(keyBack(text, at(text, '"y"'), 0, 64), NONE, 'an array element')
  t.assert.strictEqual(keyBack(text, at(text, '"z"'), 0, 64), at(text, '"ref'), 'an escaped key is found whole')
  t.assert.strictEqual(keyBack(text, 0, 0, 64), OUT, 'nothing before it to read')
  t.assert.strictEqual(keyBack(text, at(text, '"z"'), 0, 5), NONE, 'longer than asked for')
  t.assert.strictEqual(keyBack(text, at(text, '"z"'), at(text, 'u0065'), 64), OUT, 'its key starts before the floor')
})

test('values are skipped backwards whole: strings with escaped quotes, nested containers, numbers and literals', (t: TestContext) => {
  const text = '[ "q\\"}]{\\\\", {"k":[1,{"x":"]"}],"l":true}, -1.5e3, null ]'
  t.assert.strictEqual(valueStartBack(text, at(text, '", {'), 0), at(text, '"q'))
  t.assert.strictEqual(valueStartBack(text, at(text, '}, -1'), 0), at(text, '{"k"'))
  t.assert.strictEqual(valueStartBack(text, at(text, '3,'), 0), at(text, '-1.5'))
  t.assert.strictEqual(valueStartBack(text, at(text, 'l ]'), 0), at(text, 'null'))
  t.assert.strictEqual(valueStartBack(text, at(text, '}, -1'), at(text, '"x"')), OUT, 'its start lies before the floor')
})

test('the object of a member and the array of an element, past the members and elements before them', (t: TestContext) => {
  const text = '{"link":[{"relation":"self","url":"a"},{"relation":"next","other":{"u":["]"]},"url":"b"}],"meta":{"url":"c"}}'
  const second = at(text, '{"relation"', 1)
  t.assert.strictEqual(objectStartBack(text, at(text, '"url"', 1), 0), second)
  t.assert.strictEqual(arrayStartBack(text, second, 0), at(text, '['))
  t.assert.strictEqual(keyBack(text, at(text, '['), 0, 64), at(text, '"link"'))
  const meta = at(text, '{"url":"c"')
  t.assert.strictEqual(objectStartBack(text, meta + 1, 0), meta)
  t.assert.strictEqual(arrayStartBack(text, meta, 0), NONE, 'a member\'s value is no array element')
  t.assert.strictEqual(arrayStartBack(text, second, second - 5), OUT, 'the elements before it reach below the floor')
})

test('a character is escaped by an odd run of backslashes before it; a run that reaches the floor is not known', (t: TestContext) => {
  const text = 'a\\"b\\\\"c'
  t.assert.strictEqual(escaped(text, at(text, '"'), 0), 1)
  t.assert.strictEqual(escaped(text, at(text, '"', 1), 0), 0)
  t.assert.strictEqual(escaped(text, at(text, 'b'), 0), 0)
  t.assert.strictEqual(escaped(text, at(text, '"'), 1), OUT)
})
