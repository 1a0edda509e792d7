/**
 * Where log lines go: stdout (or a file), written asynchronously by pino's
 * destination (sonic-boom) in batches: it gathers lines until it holds
 * LOG_BATCH_BYTES (`minLength`), and hands over what it holds every
 * LOG_FLUSH_MS (`periodicFlush`), so a quiet sidecar's lines still come out.
 * pino flushes it synchronously at exit. A write per line would be a call
 * into libuv's thread pool per request; the plain destination (no
 * `minLength`) cost 4.9 % more instructions per proxied request, this one
 * 2.3 % fewer than batching in front of sonic-boom as tollgate once did
 * (docs/benchmarks.md, *The hot path on public APIs*).
 */
import pino, { type DestinationStream } from 'pino'

/** A batch is written once it holds this many bytes. */
export const LOG_BATCH_BYTES = 4096
/** The longest a line waits in a batch. */
export const LOG_FLUSH_MS = 200

/** A file descriptor (1 = stdout) or a file path. */
export function logDestination (dest: number | string): DestinationStream {
  return pino.destination({ dest, sync: false, minLength: LOG_BATCH_BYTES, periodicFlush: LOG_FLUSH_MS })
}
