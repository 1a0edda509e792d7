/**
 * A dispatcher that passes every request on to `root` and keeps what the
 * last answer looked like: its status, its `Date`, the wall-clock moments
 * the request went out and the answer's head came back, and the first
 * 64 KB of its body. The doctor's token step runs the sidecar's own token
 * request (src/auth/token-request.ts) through it, so what is checked is
 * exactly what the sidecar sends, and still learns what that function
 * keeps to itself: the `Date` (for the clock step), a granted `scope`, and
 * a refusal's `error_description`.
 *
 * Handlers are wrapped in the API undici's request() speaks (onConnect /
 * onHeaders / ...), as src/egress/deadline.ts does.
 */
import { Dispatcher } from 'undici'

type Handler = Record<string, ((...args: any[]) => unknown) | undefined>

/** What the token endpoint sends is a few KB; beyond this nothing more is kept. */
const MAX_KEPT_BYTES = 64 * 1024

export interface RecordedAnswer {
  readonly status: number
  /** The `Date` header as sent, if any. */
  readonly date: string | undefined
  /** Wall clock, epoch ms: when the request was dispatched and when the answer's head arrived. */
  readonly sentAt: number
  readonly receivedAt: number
  /** The body as far as it was read, at most 64 KB. */
  readonly body: () => string
}

export class RecordingDispatcher extends Dispatcher {
  readonly #root: Dispatcher
  readonly #now: () => number
  last: RecordedAnswer | undefined

  constructor (root: Dispatcher, now: () => number) {
    super()
    this.#root = root
    this.#now = now
  }

  override dispatch (options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    const sentAt = this.#now()
    const inner = handler as unknown as Handler
    const chunks: Buffer[] = []
    let kept = 0
    const wrapped: Handler = {
      onConnect: (abort, context) => inner.onConnect?.(abort, context),
      onResponseStarted: () => inner.onResponseStarted?.(),
      onBodySent: (chunk) => inner.onBodySent?.(chunk),
      onRequestSent: () => inner.onRequestSent?.(),
      onHeaders: (statusCode: number, rawHeaders: Buffer[], resume, statusText) => {
        this.last = { status: statusCode, date: header(rawHeaders, 'date'), sentAt, receivedAt: this.#now(), body: () => Buffer.concat(chunks).toString('utf8') }
        return inner.onHeaders?.(statusCode, rawHeaders, resume, statusText)
      },
      onUpgrade: (statusCode, rawHeaders, socket) => inner.onUpgrade?.(statusCode, rawHeaders, socket),
      onData: (chunk: Buffer) => {
        if (kept < MAX_KEPT_BYTES) {
          chunks.push(chunk.subarray(0, MAX_KEPT_BYTES - kept))
          kept += chunk.length
        }
        return inner.onData?.(chunk)
      },
      onComplete: (trailers) => inner.onComplete?.(trailers),
      onError: (err) => inner.onError?.(err)
    }
    return this.#root.dispatch(options, wrapped as unknown as Dispatcher.DispatchHandler)
  }

  /** The root belongs to the caller (it may be undici's global dispatcher): nothing to close here. */
  override close (): Promise<void>
  override close (callback: () => void): void
  override close (callback?: () => void): Promise<void> | void {
    if (callback === undefined) return Promise.resolve()
    queueMicrotask(callback)
  }

  override destroy (): Promise<void>
  override destroy (err: Error | null): Promise<void>
  override destroy (callback: () => void): void
  override destroy (err: Error | null, callback: () => void): void
  override destroy (errOrCallback?: Error | null | (() => void), callback?: () => void): Promise<void> | void {
    const done = typeof errOrCallback === 'function' ? errOrCallback : callback
    if (done === undefined) return Promise.resolve()
    queueMicrotask(done)
  }
}

/** A header's value from undici's raw list (name, value, name, value ...). */
function header (raw: readonly Buffer[], name: string): string | undefined {
  for (let i = 0; i + 1 < raw.length; i += 2) {
    if (raw[i]?.toString('latin1').toLowerCase() === name) return raw[i + 1]?.toString('latin1')
  }
  return undefined
}
