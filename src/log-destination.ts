/**
 * Where log lines go: stdout (or a file), written by pino's destination
 * (sonic-boom) in batches: it gathers lines until it holds LOG_BATCH_BYTES
 * (`minLength`), and what it holds is handed over at most LOG_FLUSH_MS after
 * it came, so a quiet sidecar's lines still come out. A batch is written
 * synchronously, as pino's own default destination writes: an asynchronous
 * write goes through libuv's thread pool (a handoff to a worker thread and
 * back for every batch), and cost the proxied GET 7-10 % of its throughput
 * at 10 connections (paired, Node 24; docs/benchmarks.md, *Session 7*). A
 * write per line would be a system call per request. The price of writing
 * synchronously: while stdout cannot take a batch (a full pipe), the event
 * loop waits for it, as it does under pino's defaults.
 *
 * The flush is a timer armed by a line that stays behind, not sonic-boom's
 * `periodicFlush`: that one is an interval that writes (an empty write to
 * stdout when nothing is held) five times a second for the life of the
 * process, so an idle sidecar never slept (docs/benchmarks.md, *Footprint*).
 */
import { EventEmitter } from 'node:events'
import pino, { type DestinationStream } from 'pino'

/** A batch is written once it holds this many bytes. */
export const LOG_BATCH_BYTES = 4096
/** The longest a line waits in a batch. */
export const LOG_FLUSH_MS = 200

/** What of sonic-boom this uses: its writes, its flushes, and the `write` (bytes) and `drain` events. */
interface Batching extends DestinationStream, EventEmitter {
  flush (callback?: (err?: Error) => void): void
  flushSync (): void
  end (): void
}

/**
 * sonic-boom with a flush that runs only while lines wait: bytes handed in
 * and bytes written are counted, and a line that stays behind (or a write
 * that leaves some behind) arms one timer of LOG_FLUSH_MS.
 */
class FlushWhenHeld extends EventEmitter implements DestinationStream {
  readonly #out: Batching
  readonly #flushMs: number
  #held = 0
  #timer: NodeJS.Timeout | undefined

  constructor (out: Batching, flushMs: number) {
    super()
    this.#out = out
    this.#flushMs = flushMs
    out.on('write', (bytes: number) => { this.#held = Math.max(0, this.#held - bytes) })
    // A batch went out; what came in meanwhile, short of a batch, waits for the timer.
    out.on('drain', () => { if (this.#held > 0) this.#arm() })
    out.on('error', (err: Error) => this.emit('error', err))
  }

  write (line: string): boolean {
    this.#held += Buffer.byteLength(line)
    const more = this.#out.write(line) as unknown as boolean
    this.#arm()
    return more
  }

  #arm (): void {
    if (this.#timer !== undefined) return
    this.#timer = setTimeout(() => {
      this.#timer = undefined
      // A no-op while sonic-boom is writing: the `drain` at the end of that write arms the timer again.
      if (this.#held > 0) this.#out.flush()
    }, this.#flushMs)
    this.#timer.unref()
  }

  /**
   * What is held, written now, then the callback. Not sonic-boom's flush(callback): that one waits for the
   * write and then fsyncs the descriptor through libuv's thread pool, which started four threads in a
   * sidecar that had no other use for them (pino passes a callback to every flush), to fsync stdout: a pipe,
   * where fsync fails (EINVAL). Before a file destination is open, sonic-boom's flush it is.
   */
  flush (callback?: (err?: Error) => void): void {
    try {
      this.flushSync()
    } catch {
      // Not open yet (a file path opens asynchronously): sonic-boom's own flush writes once it is.
      this.#out.flush(callback)
      return
    }
    callback?.()
  }

  flushSync (): void {
    this.#out.flushSync()
    this.#held = 0
  }

  end (): void {
    clearTimeout(this.#timer)
    this.#out.end()
  }
}

/** A file descriptor (1 = stdout) or a file path. */
export function logDestination (dest: number | string): DestinationStream {
  return new FlushWhenHeld(pino.destination({ dest, sync: true, minLength: LOG_BATCH_BYTES }) as unknown as Batching, LOG_FLUSH_MS)
}
