/**
 * `rewriteLinks: fhir` (issue 16): the locator fields of FHIR JSON bodies
 * (fhir-locator-scanner.ts) name the app's base in answers and the
 * upstream's base in requests, so every link a vendor returns leads back
 * through tollgate and a read-modify-write reaches the vendor as the vendor
 * wrote it. Streamed: nothing is buffered beyond the start of one string.
 */
import type { IncomingHttpHeaders } from 'node:http'
import { Readable } from 'node:stream'
import { createBaseMatch, LocatorScanner, type BaseMatch } from './fhir-locator-scanner.js'

/** Matched on type/subtype, parameters ignored (RFC 9110 §8.3.1: case-insensitive). */
const FHIR_JSON_TYPES = new Set(['application/fhir+json', 'application/json+fhir', 'application/json'])

/** Digests of a body's bytes: wrong once the body is rewritten or mapped. */
export const MAPPED_BODY_DIGESTS = ['content-md5', 'digest', 'repr-digest', 'content-digest'] as const

/**
 * Headers of an answer that describe its bytes as the upstream sent them,
 * wrong once the body changes: its length, its digests, and Accept-Ranges
 * (a range of the rewritten bytes cannot be asked for: a resumed download
 * would mix rewritten and original bytes; nginx's sub_filter drops it too).
 */
export const REWRITTEN_BODY_DROPS = ['content-length', 'accept-ranges', ...MAPPED_BODY_DIGESTS] as const

function isFhirJson (contentType: string | string[] | undefined): boolean {
  if (typeof contentType !== 'string') return false
  const semicolon = contentType.indexOf(';')
  return FHIR_JSON_TYPES.has((semicolon === -1 ? contentType : contentType.slice(0, semicolon)).trim().toLowerCase())
}

/** Whether a body is sent as its bytes are (no `Content-Encoding`, or `identity`): an encoded one is not JSON text to scan. */
function unencoded (encoding: string | undefined): boolean {
  return encoding === undefined || encoding.trim().toLowerCase() === 'identity'
}

/** Whether a request body is mapped back: FHIR JSON, not empty, and not encoded (a gzip body is not JSON text). */
export function mapsRequestBody (headers: IncomingHttpHeaders): boolean {
  return headers['content-length'] !== '0' && isFhirJson(headers['content-type']) && unencoded(headers['content-encoding'])
}

/**
 * Whether an answer's body is rewritten: FHIR JSON, not encoded (tollgate asks
 * rewriting upstreams for `identity`; one that encodes anyway is passed
 * byte for byte), with a body (not HEAD, 204, 304), and whole (not 206).
 */
export function rewritesAnswer (method: string, statusCode: number, headers: IncomingHttpHeaders): boolean {
  if (method === 'HEAD' || statusCode === 206 || statusCode === 204 || statusCode === 304) return false
  return unencoded(headers['content-encoding']) && isFhirJson(headers['content-type'])
}

/**
 * `source` with `base` at the start of its locator strings mapped to
 * `replacement`, as a Readable: the scan runs in `source`'s own `data`
 * events, pushed on with backpressure (`source` paused while the reader
 * is behind). Not a Transform piped to: its writable side and the pipe's
 * listeners cost more per answer than the scan of a small one. Errors and
 * early ends are carried both ways: a reader that goes away (the app hung
 * up) stops `source` too.
 */
export function rewriteLocators (source: Readable, base: BaseMatch, replacement: string): Readable {
  const scanner = new LocatorScanner(base, replacement)
  const out = new Readable({
    read () { source.resume() },
    destroy (err, callback) {
      if (!source.readableEnded) source.destroy()
      callback(err)
    }
  })
  source.on('data', (chunk: Buffer) => {
    const bytes = scanner.write(chunk)
    if (bytes.length > 0 && !out.push(bytes)) source.pause()
  })
  source.once('end', () => {
    const rest = scanner.end()
    if (rest.length > 0) out.push(rest)
    out.push(null)
  })
  source.once('error', (err) => out.destroy(err))
  return out
}

/**
 * A FHIR JSON request body, streamed or kept whole for replay, with the
 * app's base (its origin for this request + prefix) mapped back to the
 * upstream's; undefined when the app's base is not a URL (a Host header
 * that makes none), and the body goes as it came.
 */
function mapRequestBody<Body extends Readable | Buffer> (body: Body, appBase: string, upstreamBase: string): Body | undefined {
  let base: URL
  try {
    base = new URL(appBase)
  } catch {
    return undefined
  }
  if (!Buffer.isBuffer(body)) return rewriteLocators(body, createBaseMatch(base), upstreamBase) as Body
  const scanner = new LocatorScanner(createBaseMatch(base), upstreamBase)
  const head = scanner.write(body)
  const rest = scanner.end()
  return (rest.length === 0 ? head : Buffer.concat([head, rest])) as Body
}

/** A request body as the exchange prepared it: kept whole for replay, else streamed as the request's body. */
export interface PreparedBody {
  replayBody: Buffer | undefined
  bodyMapped: boolean
}

/**
 * Maps the prepared body of `request` in place (the kept copy, else the
 * stream), once the exchange has limited it: bodyLimit is on the app's
 * bytes, not the mapped ones.
 */
export function mapPreparedBody (request: { body: unknown }, prepared: PreparedBody, appBase: string, upstreamBase: string): void {
  const kept = prepared.replayBody
  const mapped = mapRequestBody(kept ?? request.body as Readable, appBase, upstreamBase)
  if (mapped === undefined) return
  if (kept !== undefined) prepared.replayBody = mapped as Buffer
  else request.body = mapped
  prepared.bodyMapped = true
}
