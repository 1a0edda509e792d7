/**
 * A streaming rewrite of the base of FHIR locator strings in a JSON text;
 * every other byte passes through as it came (issue 16).
 *
 * It looks for the base, not for structure: a native regular-expression
 * search finds every string that starts with a spelling of the base
 * (base-url.ts: scheme and host in any case, a default port or none,
 * scheme-relative, `/` escaped or not), and only for those does it read the
 * text backwards (json-backward.ts) to ask whose value the string is. A
 * chunk in which no string starts with the base comes out as it went in.
 * Locator fields, by the key a string is the value of:
 *   - `reference`, anywhere (FHIR `Reference.reference`);
 *   - `fullUrl` (FHIR has it only in `Bundle.entry`);
 *   - `location`, in an object under `response` (`Bundle.entry.response`);
 *   - `url`, in an object that is an element of a `link` array (Bundle links).
 * `system`, `profile`, canonical `url`s and identifiers are never touched.
 *
 * The match is made on the string's decoded value: `https:\/\/host\/main`
 * and `\u002f` are found by the pattern, and a string with any other
 * `\uXXXX` escape near its start is decoded and matched as text. A string
 * cut by the end of a chunk while it may still become the base is held
 * back (at most `maxRaw` bytes) until the next chunk decides it, so a base
 * split anywhere, even one byte per chunk, is found. What came before the
 * chunk is remembered as text (up to twice CONTEXT_CHARS) for the backward
 * reading; context further back than CONTEXT_CHARS is not looked at.
 * @see https://hl7.org/fhir/R4/references.html, https://hl7.org/fhir/R4/bundle.html
 */
import { createBaseMatcher, createBaseSpellings, mayStartBase, type BaseMatcher, type BaseSpellings } from './base-url.js'
import { arrayStartBack, escaped, keyBack, objectStartBack, OUT } from './json-backward.js'

/**
 * How far back from a candidate its key, its object's other members and the
 * elements before it in its array are looked for (a `link` array's earlier
 * links). Memory per scan is about twice this.
 */
export const CONTEXT_CHARS = 16 * 1024
/** Longer keys are none of ours. */
const MAX_KEY_CHARS = 64

/** A base, ready to be looked for in raw JSON text and in decoded text. */
export interface BaseMatch {
  readonly spellings: BaseSpellings
  readonly match: BaseMatcher
  /** The most raw characters the base and one character after it can take in a JSON string (every one escaped as `\uXXXX`). */
  readonly maxRaw: number
}

export function createBaseMatch (base: URL): BaseMatch {
  return { spellings: createBaseSpellings(base), match: createBaseMatcher(base), maxRaw: (base.href.length + 16) * 6 }
}

export class LocatorScanner {
  readonly #base: BaseMatch
  /** The replacement base, escaped for a JSON string, as latin1 text of its UTF-8 bytes. */
  readonly #replacement: string
  /** The raw text (latin1) before the text being scanned, CONTEXT_CHARS to twice that long when there is as much. */
  #history = ''
  /** The start of a string held back from the last chunk: the next bytes decide whether it starts with the base. */
  #held = ''

  /**
   * @param base the base whose spellings are replaced (`createBaseMatch`, once per base)
   * @param replacement what that base becomes
   */
  constructor (base: BaseMatch, replacement: string) {
    this.#base = base
    this.#replacement = Buffer.from(JSON.stringify(replacement).slice(1, -1)).toString('latin1')
  }

  /**
   * The bytes to send for `chunk`: the chunk itself when no string in it
   * starts with the base; otherwise a copy with each locator's base
   * replaced. Bytes held back come out with a later chunk.
   */
  write (chunk: Buffer): Buffer {
    // latin1: one character per byte, so offsets are byte offsets and any bytes round-trip.
    const text = this.#held === '' ? chunk.toString('latin1') : this.#held + chunk.toString('latin1')
    const spans = this.#locators(text)
    const holdFrom = this.#holdFrom(text, spans)
    let out: Buffer
    if (spans.length === 0) {
      out = this.#held !== '' ? Buffer.from(text.slice(0, holdFrom), 'latin1') : holdFrom === text.length ? chunk : chunk.subarray(0, holdFrom)
    } else {
      // Concatenated, not joined: Buffer.from writes the pieces out itself, without a flat copy first.
      let joined = ''
      let from = 0
      for (let i = 0; i < spans.length; i += 2) {
        joined += text.slice(from, spans[i]) + this.#replacement
        from = spans[i + 1] as number
      }
      out = Buffer.from(joined + text.slice(from, holdFrom), 'latin1')
    }
    this.#remember(text, holdFrom)
    this.#held = holdFrom === text.length ? '' : text.slice(holdFrom)
    return out
  }

  /** What is still held when the input ends (a string cut short): passed through as it came. */
  end (): Buffer {
    const held = this.#held
    this.#held = ''
    return Buffer.from(held, 'latin1')
  }

  /** The base's raw span in each locator string of `text`, as [start, end, start, end, ...] in order. */
  #locators (text: string): number[] {
    const spans: number[] = []
    const pattern = this.#base.spellings.pattern
    pattern.lastIndex = 0
    for (let found = pattern.exec(text); found !== null; found = pattern.exec(text)) {
      const start = found.index
      // A string's start: right after a quote (the pattern leaves it out: a leading `"` slows the search down).
      if (text.charCodeAt(start - 1) !== 0x22) continue
      if (plainLocatorKey(text, start) || this.#isLocator(text, start - 1)) spans.push(start, pattern.lastIndex)
    }
    // Rare: other escapes than `\/` and `\u002f`; such strings are decoded and matched as text.
    if (text.includes('\\u')) this.#escapedLocators(text, spans)
    return spans
  }

  #escapedLocators (text: string, spans: number[]): void {
    const { match, maxRaw } = this.#base
    const found: Array<[number, number]> = []
    let from = 0
    for (let at = text.indexOf('\\u'); at !== -1; at = text.indexOf('\\u', from)) {
      from = at + 2
      const hex = text.slice(at + 2, at + 6).toLowerCase()
      if (hex === '002f' || this.#escaped(text, at)) continue
      // The string it is in, when that starts close enough before it to hold the base (a string that started
      // in an earlier chunk was decided there, or held).
      let quote = text.lastIndexOf('"', at)
      while (quote >= 0 && this.#escaped(text, quote)) quote = quote === 0 ? -1 : text.lastIndexOf('"', quote - 1)
      let close = text.indexOf('"', from)
      while (close !== -1 && this.#escaped(text, close)) close = text.indexOf('"', close + 1)
      // The string's other escapes are decided with this one: the search goes on after its end (each one looking
      // back to the string's start and on to its end made a long string of escapes quadratic in the chunk).
      from = close === -1 ? text.length : close + 1
      if (quote < 0 || at - quote > maxRaw || spans.includes(quote + 1) || found.some(([start]) => start === quote + 1)) continue
      const raw = text.slice(quote + 1, Math.min(close === -1 ? text.length : close, quote + 1 + maxRaw))
      const { text: value, offsets } = decodeJsonText(raw)
      const base = match(value)
      // Cut by the chunk's end right after the base: not decided yet (#holdFrom holds it, and it is seen again).
      // Decoded only up to a broken escape (invalid JSON): what follows the base is no `/`, `?`, `#` or end.
      if (base === -1 || (base === value.length && (close === -1 || offsets[base] !== raw.length))) continue
      if (this.#isLocator(text, quote)) found.push([quote + 1, quote + 1 + (offsets[base] as number)])
    }
    if (found.length === 0) return
    for (let i = 0; i < spans.length; i += 2) found.push([spans[i] as number, spans[i + 1] as number])
    found.sort((a, b) => a[0] - b[0])
    spans.length = 0
    for (const [start, end] of found) spans.push(start, end)
  }

  /** Whether the string opening at `quote` is a locator's value, read back from `quote` (into the history when needed). */
  #isLocator (text: string, quote: number): boolean {
    let answer = locatorAt(text, quote, Math.max(0, quote - CONTEXT_CHARS))
    if (answer === OUT && quote < CONTEXT_CHARS && this.#history !== '') {
      const joined = this.#history + text.slice(0, quote + 1)
      const at = this.#history.length + quote
      answer = locatorAt(joined, at, Math.max(0, at - CONTEXT_CHARS))
    }
    return answer === true
  }

  /** Whether the character at `at` is escaped, counting backslashes back into the history when they reach the start of `text`. */
  #escaped (text: string, at: number): boolean {
    let k = at - 1
    while (k >= 0 && text.charCodeAt(k) === 0x5c) k--
    let run = at - 1 - k
    if (k < 0) {
      const history = this.#history
      for (let h = history.length - 1; h >= 0 && history.charCodeAt(h) === 0x5c; h--) run++
    }
    return run % 2 === 1
  }

  /**
   * Where `text`'s undecided tail starts: the last string, when what it
   * holds so far may still become a spelling of the base; else the end.
   */
  #holdFrom (text: string, spans: readonly number[]): number {
    const { spellings, maxRaw } = this.#base
    const floor = Math.max(0, text.length - maxRaw - 1)
    let quote = text.lastIndexOf('"')
    while (quote >= floor && this.#escaped(text, quote)) quote = quote === 0 ? -1 : text.lastIndexOf('"', quote - 1)
    if (quote < floor || spans.includes(quote + 1)) return text.length
    const first = text.charCodeAt(quote + 1)
    // Empty so far, or starting as a base may: h, H, / or an escape.
    if (!(Number.isNaN(first) || first === 0x68 || first === 0x48 || first === 0x2f || first === 0x5c)) return text.length
    return mayStartBase(spellings, decodeJsonText(text.slice(quote + 1)).text) ? quote : text.length
  }

  /** Keeps the raw text before `end` that a later candidate's context may need. */
  #remember (text: string, end: number): void {
    if (end >= CONTEXT_CHARS) {
      this.#history = text.slice(end - CONTEXT_CHARS, end)
      return
    }
    const history = this.#history + text.slice(0, end)
    this.#history = history.length > 2 * CONTEXT_CHARS ? history.slice(-CONTEXT_CHARS) : history
  }
}

/**
 * Whether the string opening at `quote` is the value of a locator field
 * (the rules in the header); OUT when that needs text before `floor`.
 */
function locatorAt (text: string, quote: number, floor: number): boolean | typeof OUT {
  const state = escaped(text, quote, floor)
  if (state !== 0) return state === 1 ? false : OUT
  const key = keyBack(text, quote, floor, MAX_KEY_CHARS)
  if (key < 0) return key === OUT ? OUT : false
  switch (keyName(text, key)) {
    case 'reference':
    case 'fullUrl':
      return true
    case 'location': {
      const object = objectStartBack(text, key, floor)
      if (object < 0) return object === OUT ? OUT : false
      const parent = keyBack(text, object, floor, MAX_KEY_CHARS)
      return parent < 0 ? (parent === OUT ? OUT : false) : keyName(text, parent) === 'response'
    }
    case 'url': {
      const object = objectStartBack(text, key, floor)
      if (object < 0) return object === OUT ? OUT : false
      const array = arrayStartBack(text, object, floor)
      if (array < 0) return array === OUT ? OUT : false
      const parent = keyBack(text, array, floor, MAX_KEY_CHARS)
      return parent < 0 ? (parent === OUT ? OUT : false) : keyName(text, parent) === 'link'
    }
    default:
      return false
  }
}

/**
 * The common case, compared in place: the string starting at `start` is the
 * value of `"reference"` or `"fullUrl"`, written plainly right before it
 * (with or without one space after the colon). False says only "not this
 * way"; `locatorAt` decides the rest.
 */
function plainLocatorKey (text: string, start: number): boolean {
  for (const before of PLAIN_KEYS) {
    const at = start - before.length
    // An opening quote is escaped only after a backslash (before the text: not known here).
    if (at > 0 && text.startsWith(before, at) && text.charCodeAt(at - 1) !== 0x5c) return true
  }
  return false
}
const PLAIN_KEYS = ['"fullUrl":"', '"reference":"', '"fullUrl": "', '"reference": "']

/** The decoded name of the key whose opening quote is at `quote` (keys are short: see MAX_KEY_CHARS). */
function keyName (text: string, quote: number): string {
  const raw = text.slice(quote + 1, closingQuote(text, quote))
  return raw.includes('\\') ? decodeJsonText(raw).text : raw
}

/** The unescaped `"` that closes the string opening at `quote`, or -1 when `text` ends first. */
function closingQuote (text: string, quote: number): number {
  let close = text.indexOf('"', quote + 1)
  while (close !== -1 && escaped(text, close, quote + 1) === 1) close = text.indexOf('"', close + 1)
  return close
}

const ESCAPES: Readonly<Record<string, string>> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' }

/**
 * The decoded text of a JSON string's raw characters (without quotes), as
 * far as they decode, and for each decoded character the raw offset it
 * starts at (plus the end). Characters above U+007F (bytes, read as latin1)
 * decode to U+FFFD each: a base is ASCII, so they only ever need to not
 * match it.
 */
export function decodeJsonText (raw: string): { text: string, offsets: number[] } {
  let text = ''
  const offsets: number[] = []
  let i = 0
  while (i < raw.length) {
    const code = raw.charCodeAt(i)
    if (code !== 0x5c) {
      offsets.push(i)
      text += code < 0x80 ? raw[i] : '\uFFFD'
      i++
      continue
    }
    const escape = raw[i + 1]
    if (escape === undefined) break
    if (escape === 'u') {
      const hex = raw.slice(i + 2, i + 6)
      if (!/^[0-9a-fA-F]{4}$/.test(hex)) break
      offsets.push(i)
      text += String.fromCharCode(Number.parseInt(hex, 16))
      i += 6
    } else {
      offsets.push(i)
      text += ESCAPES[escape] ?? '\uFFFD'
      i += 2
    }
  }
  offsets.push(i)
  return { text, offsets }
}
