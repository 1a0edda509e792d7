/**
 * Where log lines go: stdout (or a file), written asynchronously in batches.
 * A write per line is a call into libuv's thread pool (about 3 µs of the
 * main thread per request line), so lines are gathered here and handed to
 * sonic-boom (pino's destination) a batch at a time. sonic-boom cannot
 * gather them itself at this rate: it measures the byte length of its whole
 * pending buffer on every write, so feeding it line by line costs in
 * proportion to the batch (3.0 µs against 1.9 µs per request line,
 * measured; docs/benchmarks.md).
 */
import pino, { type DestinationStream } from 'pino'

/** A batch is handed over once it holds about this many characters (the lines are ASCII, give or take). */
export const LOG_BATCH_BYTES = 4096
/** The longest a line waits in a batch. */
export const LOG_FLUSH_MS = 200

type SonicBoom = ReturnType<typeof pino.destination>

/** A file descriptor (1 = stdout) or a file path. */
export function logDestination (dest: number | string): DestinationStream {
  return new LineBatch(pino.destination({ dest, sync: false }))
}

class LineBatch implements DestinationStream {
  readonly #dest: SonicBoom
  #pending = ''

  constructor (dest: SonicBoom) {
    this.#dest = dest
    // Unref'd: a quiet sidecar's timer must not keep a stopping process alive.
    setInterval(() => { this.#handOver() }, LOG_FLUSH_MS).unref()
    // pino flushes its sonic-boom at exit; what is still here must join it, synchronously.
    process.once('exit', () => { this.flushSync() })
  }

  write (line: string): boolean {
    this.#pending += line
    if (this.#pending.length >= LOG_BATCH_BYTES) this.#handOver()
    return true
  }

  /** pino's logger.flush() lands here. */
  flush (callback?: (err?: Error) => void): void {
    this.#handOver()
    this.#dest.flush(callback)
  }

  flushSync (): void {
    this.#handOver()
    try {
      this.#dest.flushSync()
    } catch {
      // Not open yet, or already closed: nothing more can be written at exit.
    }
  }

  #handOver (): void {
    if (this.#pending === '') return
    const batch = this.#pending
    this.#pending = ''
    try {
      this.#dest.write(batch)
    } catch {
      // A destroyed destination (the process is ending): the batch has nowhere to go.
    }
  }
}
