/**
 * `rewriteLinks: fhir` (issue 16): the locator fields of FHIR JSON bodies
 * (fhir-locator-scanner.ts) name the app's base in answers and the
 * upstream's base in requests, so every link a vendor returns leads back
 * through tollgate and a read-modify-write reaches the vendor as the vendor
 * wrote it. Streamed: nothing is buffered beyond the start of one string.
 */
import type { IncomingHttpHeaders } from 'node:http'
import { Transform, type Readable } from 'node:stream'
import { createBaseMatch, LocatorScanner, type BaseMatch } from './fhir-locator-scanner.js'

/** Matched on type/subtype, parameters ignored (RFC 9110 §8.3.1: case-insensitive). */
const FHIR_JSON_TYPES = new Set(['application/fhir+json', 'application/json+fhir', 'application/json'])

/** Headers that describe the bytes as the upstream sent them, wrong once the body changes. */
export const REWRITTEN_BODY_DROPS = ['content-length', 'content-md5', 'digest', 'repr-digest'] as const

export function isFhirJson (contentType: string | string[] | undefined): boolean {
  if (typeof contentType !== 'string') return false
  const semicolon = contentType.indexOf(';')
  return FHIR_JSON_TYPES.has((semicolon === -1 ? contentType : contentType.slice(0, semicolon)).trim().toLowerCase())
}

/**
 * Whether an answer's body is rewritten: FHIR JSON, not encoded (tollgate asks
 * rewriting upstreams for `identity`; one that encodes anyway is passed
 * byte for byte), with a body (not HEAD, 204, 304), and whole (not 206).
 */
export function rewritesAnswer (method: string, statusCode: number, headers: IncomingHttpHeaders): boolean {
  if (method === 'HEAD' || statusCode === 206 || statusCode === 204 || statusCode === 304) return false
  const encoding = headers['content-encoding']
  if (encoding !== undefined && encoding.trim().toLowerCase() !== 'identity') return false
  return isFhirJson(headers['content-type'])
}

/** A stream that maps `base` at the start of locator strings to `replacement`. */
export function createLocatorStream (base: BaseMatch, replacement: string): Transform {
  const scanner = new LocatorScanner(base, replacement)
  return new Transform({
    transform (chunk: Buffer, _encoding, callback) {
      const out = scanner.write(chunk)
      callback(null, out.length === 0 ? undefined : out)
    },
    flush (callback) {
      const out = scanner.end()
      callback(null, out.length === 0 ? undefined : out)
    }
  })
}

/**
 * `source` piped through `transform`, errors and early ends carried both
 * ways. Not `stream.pipeline`: on Node 20 it makes an AbortController per
 * call and aborts it when done, building a DOMException with a stack trace
 * each time, which measured as a large share of a rewritten answer's cost.
 */
export function pipeThrough (source: Readable, transform: Transform): Transform {
  source.on('error', (err) => transform.destroy(err))
  // The reader went away (the app hung up): stop reading the source too.
  transform.on('close', () => { if (!source.readableEnded) source.destroy() })
  return source.pipe(transform)
}

/**
 * A FHIR JSON request body with the app's base (its origin for this request
 * + prefix) mapped back to the upstream's; undefined when the app's base is
 * not a URL (a Host header that makes none), and the body goes as it came.
 */
export function mapRequestBody (body: Readable, appBase: string, upstreamBase: string): Transform | undefined {
  let base: URL
  try {
    base = new URL(appBase)
  } catch {
    return undefined
  }
  return pipeThrough(body, createLocatorStream(createBaseMatch(base), upstreamBase))
}
