/**
 * A streaming scan of a JSON text that rewrites the base of FHIR locator
 * strings and passes every other byte through as it came (issue 16).
 *
 * It is a tokenizer, not a parser: it knows strings (and their escapes),
 * objects, arrays and keys, enough to know where each string value sits, and
 * never builds a value. Locator fields, by their place in the tree:
 *   - `reference` anywhere (FHIR `Reference.reference`);
 *   - `entry[].fullUrl`, `entry[].response.location` (Bundle);
 *   - `link[].url` (Bundle links: self, next, previous).
 * `system`, `profile`, canonical `url`s and identifiers are never touched.
 *
 * Memory per scan is bounded whatever the input: a locator string is held
 * only until its start decides the match (at most ~6 bytes per character of
 * the base, for `\uXXXX` escapes), keys are read up to 64 bytes, and the
 * nesting tracked is capped (deeper input passes through unscanned). A base
 * split across chunks, even one byte per chunk, is matched all the same,
 * because the match is made on the decoded value: `https:\/\/host\/main`
 * and `\u002f` count as written plainly.
 * @see https://hl7.org/fhir/R4/references.html, https://hl7.org/fhir/R4/bundle.html
 */
import { createBaseMatcher, createByteMatcher, type BaseMatcher, type ByteMatcher } from './base-url.js'

/** Deeper nesting than this is passed through without looking (no FHIR resource comes near it). */
const MAX_DEPTH = 256
/** Longer keys are none of ours. */
const MAX_KEY_BYTES = 64

interface Frame {
  readonly array: boolean
  /** The object's current key (undefined while one is read, and in arrays). */
  key: string | undefined
}

/** The bytes that change what is being read, outside strings: `"` `{` `}` `[` `]` `,`. */
const STRUCTURAL = new Uint8Array(256)
for (const byte of [0x22, 0x7b, 0x7d, 0x5b, 0x5d, 0x2c]) STRUCTURAL[byte] = 1

/** A base, ready to be looked for in decoded text and in raw bytes. */
export interface BaseMatch {
  readonly match: BaseMatcher
  readonly matchBytes: ByteMatcher
  /** The length of its usual spelling, to bound what is held. */
  readonly length: number
}

export function createBaseMatch (base: URL): BaseMatch {
  return { match: createBaseMatcher(base), matchBytes: createByteMatcher(base), length: base.href.length }
}

const QUOTE = 0x22
const BACKSLASH = 0x5c

/*
 * What is being read: plain numbers, not a `const enum` (tsx/esbuild emit
 * an enum object, and a property load per byte measured in the scan loop).
 */
/** Outside strings. */
const CODE = 0
/** A string nobody changes. */
const STRING = 1
/** An object key. */
const KEY = 2
/** A locator value, until its start is decided. */
const LOCATOR = 3
type Mode = typeof CODE | typeof STRING | typeof KEY | typeof LOCATOR

export class LocatorScanner {
  readonly #match: BaseMatcher
  readonly #matchBytes: ByteMatcher
  /** The replacement base, already escaped for a JSON string. */
  readonly #replacement: Buffer
  /** A locator value is decided after this many raw bytes, or at its closing quote. */
  readonly #decideAfter: number
  readonly #stack: Frame[] = []
  #mode: Mode = CODE
  #escaped = false
  /** The raw bytes of a key or locator value begun in an earlier chunk (a locator's not sent yet). */
  #held: Buffer | undefined = undefined
  /** Beyond MAX_DEPTH: everything passes through. */
  #blind = false

  /**
   * @param base the base whose spellings are replaced (`createBaseMatch`, once per base)
   * @param replacement what that base becomes (a URL: no character needs escaping but `"` and `\`)
   */
  constructor (base: BaseMatch, replacement: string) {
    this.#match = base.match
    this.#matchBytes = base.matchBytes
    const baseLength = base.length
    this.#replacement = Buffer.from(JSON.stringify(replacement).slice(1, -1))
    // Room for an explicit default port, a separator, and every character escaped as \uXXXX.
    this.#decideAfter = (baseLength + 16) * 6
  }

  /**
   * The bytes to send for `chunk` (possibly fewer or more than it: a locator
   * value split across chunks comes out once decided). Output is split only
   * where a base is replaced or bytes were held: the common chunk comes back
   * as it went in.
   */
  write (chunk: Buffer): Buffer {
    if (this.#blind) return chunk
    const out: Buffer[] = []
    const stack = this.#stack
    const length = chunk.length
    let mode: Mode = this.#mode
    let escaped = this.#escaped
    /** Start of the bytes not yet sent. */
    let from = 0
    /** Where the key or locator value being read starts in this chunk (0 when it began earlier). */
    let start = 0
    for (let i = 0; i < length; i++) {
      let byte = chunk[i] as number
      if (mode === STRING || mode === KEY) {
        if (escaped) {
          escaped = false
          continue
        }
        // Most bytes are inside strings nobody changes: a tight loop to the next quote or backslash.
        while (byte !== QUOTE && byte !== BACKSLASH && ++i < length) byte = chunk[i] as number
        if (i === length) break
        if (byte === BACKSLASH) {
          escaped = true
          continue
        }
        if (mode === KEY) this.#keyEnded(chunk, start, i)
        mode = CODE
        continue
      }
      if (mode === LOCATOR) {
        if (escaped) {
          escaped = false
        } else if (byte === BACKSLASH) {
          escaped = true
        } else if (byte === QUOTE) {
          from = this.#decide(out, chunk, from, start, i)
          mode = CODE
          continue
        }
        if (i + 1 - start + (this.#held?.length ?? 0) >= this.#decideAfter) {
          // Long enough to know: the rest of the string passes as it comes.
          from = this.#decide(out, chunk, from, start, i + 1)
          mode = STRING
        }
        continue
      }
      // Outside strings only `"{}[],` matter: numbers, literals, `:` and whitespace are skipped.
      while (STRUCTURAL[byte] === 0 && ++i < length) byte = chunk[i] as number
      if (i === length) break
      switch (byte) {
        case QUOTE: {
          const top = stack[stack.length - 1]
          if (top !== undefined && !top.array && top.key === undefined) mode = KEY
          else mode = this.#isLocator() ? LOCATOR : STRING
          start = i + 1
          break
        }
        case 0x7b: // {
        case 0x5b: // [
          if (stack.length === MAX_DEPTH) {
            this.#blind = true
            out.push(chunk.subarray(from))
            return concat(out)
          }
          stack.push({ array: byte === 0x5b, key: undefined })
          break
        case 0x7d: // }
        case 0x5d: // ]
          stack.pop()
          break
        case 0x2c: { // ,
          const top = stack[stack.length - 1]
          if (top !== undefined && !top.array) top.key = undefined
          break
        }
      }
    }
    if (mode === LOCATOR) {
      // Not decided yet: held back (at most #decideAfter bytes) until it is.
      if (start > from) out.push(chunk.subarray(from, start))
      this.#held = this.#take(chunk, start, length)
      from = length
    } else if (mode === KEY) {
      // Keys are never changed: sent on; only their first bytes are kept, to know them.
      const held = this.#take(chunk, start, length)
      this.#held = held.length > MAX_KEY_BYTES ? held.subarray(0, MAX_KEY_BYTES + 1) : held
    }
    if (from < length) out.push(from === 0 ? chunk : chunk.subarray(from))
    this.#mode = mode
    this.#escaped = escaped
    return concat(out)
  }

  /** What is still held when the input ends (a truncated locator string): passed through as it came. */
  end (): Buffer {
    const held = this.#held
    this.#held = undefined
    return this.#mode === LOCATOR && held !== undefined ? held : Buffer.alloc(0)
  }

  /** A string value starts here: is it a locator, by its key and the keys above it? */
  #isLocator (): boolean {
    const stack = this.#stack
    const depth = stack.length
    const key = stack[depth - 1]?.key
    if (key === 'reference') return true
    const parent = stack[depth - 2]
    if (key === 'fullUrl' || key === 'url') {
      return parent?.array === true && stack[depth - 3]?.key === (key === 'fullUrl' ? 'entry' : 'link')
    }
    if (key === 'location') {
      return parent?.key === 'response' && stack[depth - 3]?.array === true && stack[depth - 4]?.key === 'entry'
    }
    return false
  }

  /** The held bytes of the string being read, followed by chunk[start, end). */
  #take (chunk: Buffer, start: number, end: number): Buffer {
    const held = this.#held
    this.#held = undefined
    if (held === undefined) return chunk.subarray(start, end)
    return Buffer.concat([held, chunk.subarray(start, end)])
  }

  /** A key ends at chunk[end]: remember it when it is one the locator paths name, else as ''. */
  #keyEnded (chunk: Buffer, start: number, end: number): void {
    const top = this.#stack[this.#stack.length - 1] as Frame
    if (this.#held === undefined) {
      top.key = knownKey(chunk, start, end)
      return
    }
    const raw = this.#take(chunk, start, end)
    top.key = raw.length > MAX_KEY_BYTES ? '' : knownKey(raw, 0, raw.length)
  }

  /**
   * A locator value's first bytes are known (up to `end` in this chunk, after
   * any held ones): replace the base at its start, or let it pass. Returns
   * where the bytes not yet sent now start.
   */
  #decide (out: Buffer[], chunk: Buffer, from: number, start: number, end: number): number {
    const wasHeld = this.#held !== undefined
    if (!wasHeld) {
      // The common case, without a copy: the whole value in this chunk, written plainly.
      const first = chunk[start]
      if (first !== 0x68 && first !== 0x48 && first !== 0x2f && first !== BACKSLASH) return from
      const at = this.#matchBytes(chunk, start, end)
      if (at !== -1) {
        if (start > from) out.push(chunk.subarray(from, start))
        out.push(this.#replacement)
        return start + at
      }
      const escape = chunk.indexOf(BACKSLASH, start)
      if (escape === -1 || escape >= end) return from
    }
    const raw = this.#take(chunk, start, end)
    const { text, offsets } = decodeJsonString(raw)
    const at = this.#match(text)
    if (at === -1) {
      if (!wasHeld) return from
      out.push(raw)
      return end
    }
    if (!wasHeld && start > from) out.push(chunk.subarray(from, start))
    out.push(this.#replacement, raw.subarray(offsets[at]))
    return end
  }
}

/** The keys the locator paths name, by length, compared as bytes: no string is made for any other key. */
const KNOWN_KEYS = new Map<number, Array<{ name: string, bytes: Buffer }>>()
for (const name of ['reference', 'fullUrl', 'url', 'location', 'entry', 'link', 'response']) {
  const list = KNOWN_KEYS.get(name.length) ?? []
  list.push({ name, bytes: Buffer.from(name, 'latin1') })
  KNOWN_KEYS.set(name.length, list)
}

function knownKey (raw: Buffer, start: number, end: number): string {
  const candidates = KNOWN_KEYS.get(end - start)
  if (candidates !== undefined) {
    for (const { name, bytes } of candidates) {
      let k = 0
      while (k < bytes.length && raw[start + k] === bytes[k]) k++
      if (k === bytes.length) return name
    }
  }
  // Written with escapes (`ref\u0065rence`): decoded, then looked up.
  if (end - start > MAX_KEY_BYTES) return ''
  let escape = start
  while (escape < end && raw[escape] !== BACKSLASH) escape++
  if (escape === end) return ''
  const text = decodeJsonString(raw.subarray(start, end)).text
  return KNOWN_KEYS.get(text.length)?.some(({ name }) => name === text) === true ? text : ''
}

function concat (out: Buffer[]): Buffer {
  return out.length === 1 ? out[0] as Buffer : Buffer.concat(out)
}

const ESCAPES: Readonly<Record<number, string>> = { 0x22: '"', 0x5c: '\\', 0x2f: '/', 0x62: '\b', 0x66: '\f', 0x6e: '\n', 0x72: '\r', 0x74: '\t' }

/**
 * The decoded text of a JSON string's raw bytes (without quotes), as far as
 * they decode, and for each decoded character the raw offset it starts at
 * (plus the end). Bytes above 0x7f decode to U+FFFD each: a base is ASCII,
 * so they only ever need to not match it.
 */
export function decodeJsonString (raw: Buffer): { text: string, offsets: number[] } {
  let text = ''
  const offsets: number[] = []
  let i = 0
  while (i < raw.length) {
    const byte = raw[i] as number
    if (byte !== BACKSLASH) {
      offsets.push(i)
      text += byte < 0x80 ? String.fromCharCode(byte) : '\uFFFD'
      i++
      continue
    }
    const escape = raw[i + 1]
    if (escape === undefined) break
    if (escape === 0x75) {
      if (i + 6 > raw.length) break
      const code = Number.parseInt(raw.toString('latin1', i + 2, i + 6), 16)
      if (Number.isNaN(code)) break
      offsets.push(i)
      text += String.fromCharCode(code)
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
