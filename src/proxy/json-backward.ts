/**
 * Reading JSON text backwards from a point known to lie outside strings:
 * which member key a value belongs to, and which object or array holds it.
 * The locator scan (fhir-locator-scanner.ts) finds its candidates by their
 * bytes and asks these questions only of them, instead of tracking the
 * whole tree as the text goes by.
 *
 * Going backwards through valid JSON is unambiguous: outside strings, an
 * unescaped `"` closes a string, and the string starts at the unescaped `"`
 * before it. Every reader stops at `floor`: `OUT` says it needed text
 * before that, `NONE` that the text is not what was asked for.
 */

/** The answer needed text before `floor`. */
export const OUT = -2
/** Not there: the text is not shaped as asked (or is not valid JSON). */
export const NONE = -1

const QUOTE = 0x22
const BACKSLASH = 0x5c

/** Whether the character at `at` is escaped (an odd run of backslashes before it): 1 or 0; OUT when the run reaches `floor`. */
export function escaped (text: string, at: number, floor: number): 0 | 1 | typeof OUT {
  let k = at - 1
  while (k >= floor && text.charCodeAt(k) === BACKSLASH) k--
  if (k < floor) return OUT
  return (at - 1 - k) % 2 === 1 ? 1 : 0
}

/** The last character at or before `at` that is not JSON white space, or OUT. */
export function skipSpaceBack (text: string, at: number, floor: number): number {
  let k = at
  for (; k >= floor; k--) {
    const c = text.charCodeAt(k)
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) return k
  }
  return OUT
}

/** The opening quote of the string whose closing quote is at `close`, looked for no further back than `floor`; or OUT. */
export function stringStartBack (text: string, close: number, floor: number): number {
  let k = close - 1
  for (;;) {
    k = text.lastIndexOf('"', k)
    if (k < floor) return OUT
    const state = escaped(text, k, floor)
    if (state !== 1) return state === 0 ? k : OUT
    k--
  }
}

/** Where the value that ends at `end` starts (a string, object, array, number or literal); OUT or NONE. */
export function valueStartBack (text: string, end: number, floor: number): number {
  const last = text.charCodeAt(end)
  if (last === QUOTE) return stringStartBack(text, end, floor)
  if (last === 0x7d || last === 0x5d) { // } ]
    let depth = 1
    for (let k = end - 1; k >= floor; k--) {
      const c = text.charCodeAt(k)
      if (c === QUOTE) {
        k = stringStartBack(text, k, floor)
        if (k === OUT) return OUT
      } else if (c === 0x7d || c === 0x5d) {
        depth++
      } else if ((c === 0x7b || c === 0x5b) && --depth === 0) {
        return k
      }
    }
    return OUT
  }
  // A number or a literal: true, false, null, -1.5e3.
  let k = end
  while (k >= floor && /[\w.+-]/.test(text[k] as string)) k--
  if (k < floor) return OUT
  return k === end ? NONE : k + 1
}

/**
 * The `{` of the object holding the member whose key's opening quote is at
 * `keyQuote`, past the members before it; OUT or NONE.
 */
export function objectStartBack (text: string, keyQuote: number, floor: number): number {
  let k = skipSpaceBack(text, keyQuote - 1, floor)
  for (;;) {
    if (k === OUT) return OUT
    const c = text.charCodeAt(k)
    if (c === 0x7b) return k
    if (c !== 0x2c) return NONE // ,
    // The member before: `"key": value`.
    k = skipSpaceBack(text, k - 1, floor)
    if (k === OUT) return OUT
    const value = valueStartBack(text, k, floor)
    if (value < 0) return value
    k = skipSpaceBack(text, value - 1, floor)
    if (k === OUT) return OUT
    if (text.charCodeAt(k) !== 0x3a) return NONE // :
    k = skipSpaceBack(text, k - 1, floor)
    if (k === OUT) return OUT
    if (text.charCodeAt(k) !== QUOTE) return NONE
    const key = stringStartBack(text, k, floor)
    if (key === OUT) return OUT
    k = skipSpaceBack(text, key - 1, floor)
  }
}

/** The `[` of the array whose element starts at `element`, past the elements before it; OUT, or NONE when it is no array element. */
export function arrayStartBack (text: string, element: number, floor: number): number {
  let k = skipSpaceBack(text, element - 1, floor)
  for (;;) {
    if (k === OUT) return OUT
    const c = text.charCodeAt(k)
    if (c === 0x5b) return k
    if (c !== 0x2c) return NONE
    k = skipSpaceBack(text, k - 1, floor)
    if (k === OUT) return OUT
    const value = valueStartBack(text, k, floor)
    if (value < 0) return value
    k = skipSpaceBack(text, value - 1, floor)
  }
}

/**
 * The opening quote of the key of the member whose value starts at `value`,
 * when the key is at most `maxLength` raw characters long; NONE when
 * `value` is no member's value (an array element, the top level) or its key
 * is longer; OUT when that needs text before `floor`.
 */
export function keyBack (text: string, value: number, floor: number, maxLength: number): number {
  let k = skipSpaceBack(text, value - 1, floor)
  if (k === OUT) return OUT
  if (text.charCodeAt(k) !== 0x3a) return NONE // :
  k = skipSpaceBack(text, k - 1, floor)
  if (k === OUT) return OUT
  if (text.charCodeAt(k) !== QUOTE) return NONE
  const limit = k - maxLength - 1
  const start = stringStartBack(text, k, Math.max(floor, limit))
  if (start === OUT) return limit < floor ? OUT : NONE
  return start
}
