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
import type { BaseMatcher } from './base-url.js'

/** Deeper nesting than this is passed through without looking (no FHIR resource comes near it). */
const MAX_DEPTH = 256
/** Longer keys are none of ours. */
const MAX_KEY_BYTES = 64

interface Frame {
  readonly array: boolean
  /** The object's current key (undefined while one is read, and in arrays). */
  key: string | undefined
}

const QUOTE = 0x22
const BACKSLASH = 0x5c

export class LocatorScanner {
  readonly #match: BaseMatcher
  /** The replacement base, already escaped for a JSON string. */
  readonly #replacement: Buffer
  /** A locator value is decided after this many raw bytes, or at its closing quote. */
  readonly #decideAfter: number
  readonly #stack: Frame[] = []
  #inString = false
  #escaped = false
  /** The string being read is a key. */
  #key = false
  /** Raw bytes of the key or locator value held for a decision; undefined when passing through. */
  #held: Buffer[] | undefined = undefined
  #heldLength = 0
  /** Beyond MAX_DEPTH or after malformed input: everything passes through. */
  #blind = false
  #out: Buffer[] = []

  /**
   * @param match where a decoded string's base ends, or -1
   * @param replacement what that base becomes (a URL: no character needs escaping but `"` and `\`)
   * @param baseLength the length of the base being matched, to bound what is held
   */
  constructor (match: BaseMatcher, replacement: string, baseLength: number) {
    this.#match = match
    this.#replacement = Buffer.from(JSON.stringify(replacement).slice(1, -1))
    // Room for an explicit default port, a separator, and every character escaped as \uXXXX.
    this.#decideAfter = (baseLength + 16) * 6
  }

  /** The bytes to send for `chunk` (possibly fewer or more than it: held bytes come out later). */
  write (chunk: Buffer): Buffer {
    if (this.#blind) return chunk
    let from = 0
    const length = chunk.length
    for (let i = 0; i < length; i++) {
      const byte = chunk[i] as number
      if (this.#inString) {
        if (this.#escaped) {
          this.#escaped = false
        } else if (byte === BACKSLASH) {
          this.#escaped = true
        } else if (byte === QUOTE) {
          this.#inString = false
          if (this.#held !== undefined) {
            this.#hold(chunk.subarray(from, i))
            from = i
            this.#stringEnded()
          }
          continue
        }
        if (this.#held !== undefined && this.#heldLength + (i + 1 - from) >= (this.#key ? MAX_KEY_BYTES : this.#decideAfter)) {
          this.#hold(chunk.subarray(from, i + 1))
          from = i + 1
          if (this.#key) {
            // Too long to be one of ours: passed on, and known as no key of interest.
            ;(this.#stack[this.#stack.length - 1] as Frame).key = ''
            this.#out.push(this.#takeHeld())
          } else {
            this.#decide(this.#takeHeld())
          }
        }
        continue
      }
      switch (byte) {
        case QUOTE: {
          this.#inString = true
          const top = this.#stack[this.#stack.length - 1]
          this.#key = top !== undefined && !top.array && top.key === undefined
          if (this.#key || this.#isLocator()) {
            this.#out.push(chunk.subarray(from, i + 1))
            from = i + 1
            this.#held = []
            this.#heldLength = 0
          }
          break
        }
        case 0x7b: // {
        case 0x5b: // [
          if (this.#stack.length === MAX_DEPTH) {
            this.#blind = true
            this.#out.push(chunk.subarray(from))
            return this.#flush()
          }
          this.#stack.push({ array: byte === 0x5b, key: undefined })
          break
        case 0x7d: // }
        case 0x5d: // ]
          this.#stack.pop()
          break
        case 0x2c: { // ,
          const top = this.#stack[this.#stack.length - 1]
          if (top !== undefined && !top.array) top.key = undefined
          break
        }
      }
    }
    if (this.#held !== undefined) this.#hold(chunk.subarray(from))
    else this.#out.push(chunk.subarray(from))
    return this.#flush()
  }

  /** What is still held when the input ends (a truncated string): passed through as it came. */
  end (): Buffer {
    if (this.#held !== undefined) this.#out.push(this.#takeHeld())
    return this.#flush()
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

  #hold (bytes: Buffer): void {
    if (bytes.length === 0) return
    ;(this.#held as Buffer[]).push(bytes)
    this.#heldLength += bytes.length
  }

  #takeHeld (): Buffer {
    const held = this.#held as Buffer[]
    this.#held = undefined
    this.#heldLength = 0
    return held.length === 1 ? held[0] as Buffer : Buffer.concat(held)
  }

  /** The closing quote of a held key or locator value was reached. */
  #stringEnded (): void {
    const raw = this.#takeHeld()
    if (this.#key) {
      const top = this.#stack[this.#stack.length - 1] as Frame
      top.key = decodeJsonString(raw).text
      this.#out.push(raw)
    } else {
      this.#decide(raw)
    }
  }

  /** Rewrite the base at the start of a locator value's raw bytes, or pass them as they came. */
  #decide (raw: Buffer): void {
    const { text, offsets } = decodeJsonString(raw)
    const at = this.#match(text)
    if (at === -1) {
      this.#out.push(raw)
      return
    }
    this.#out.push(this.#replacement, raw.subarray(offsets[at]))
  }

  #flush (): Buffer {
    const out = this.#out
    this.#out = []
    return out.length === 1 ? out[0] as Buffer : Buffer.concat(out)
  }
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
