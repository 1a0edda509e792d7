/**
 * Request bodies: streamed to the upstream as they arrive, never buffered
 * whole, except a small body of a retryable request, which is kept so the
 * request can be sent again after a 401 or 429.
 */
import { Transform, type Readable } from 'node:stream'
import { BodyTooLarge } from '../errors.js'

/** Bodies up to this size are kept for replay; larger ones stream and are not retried. */
export const REPLAY_LIMIT = 1024 * 1024

/** Errors the stream once more than `limit` bytes have passed (a chunked body has no length to check up front). */
export function limitBody (source: Readable, limit: number): Readable {
  let seen = 0
  const counter = new Transform({
    transform (chunk: Buffer, _encoding, callback) {
      seen += chunk.length
      if (seen > limit) callback(new BodyTooLarge(limit))
      else callback(null, chunk)
    }
  })
  source.on('error', (err) => counter.destroy(err))
  return source.pipe(counter)
}

/** Reads a body known (by content-length) to be at most REPLAY_LIMIT bytes. */
export async function readBody (source: Readable): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of source) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}
