/**
 * The upstream's `timeout` for the response headers, on a native timer.
 * undici's own headersTimeout runs on its coarse "fast timers", which fire up
 * to about a second late (lib/util/timers.js, RESOLUTION_MS = 1000): a 300 ms
 * timeout answered at 800 ms would pass. This wrapper aborts the request with
 * undici's HeadersTimeoutError at the deadline, which the proxy turns into a
 * 504. Body stalls keep undici's bodyTimeout (coarse is fine there).
 *
 * It wraps `dispatch` with a handler in the API reply-from's request handler
 * already speaks (onConnect / onHeaders / ...). undici's compose() would
 * convert every handler to its newer API and the pool back again, parsing
 * the response headers twice per request (measured 10-15 µs, bench/).
 */
import { Dispatcher, errors } from 'undici'

type Handler = Record<string, ((...args: any[]) => unknown) | undefined>

class DeadlineHandler {
  readonly #handler: Handler
  #timer: NodeJS.Timeout | undefined
  #abort: ((err: Error) => void) | undefined
  #expired = false

  constructor (timeoutMs: number, handler: Handler) {
    this.#handler = handler
    // Counted from dispatch, so waiting for a pooled connection is part of it.
    this.#timer = setTimeout(() => {
      this.#timer = undefined
      this.#expired = true
      this.#abort?.(new errors.HeadersTimeoutError())
    }, timeoutMs)
  }

  #clear (): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    this.#timer = undefined
  }

  onConnect (abort: (err: Error) => void, context: unknown): unknown {
    this.#abort = abort
    const result = this.#handler.onConnect?.(abort, context)
    if (this.#expired) abort(new errors.HeadersTimeoutError())
    return result
  }

  onResponseStarted (): unknown { return this.#handler.onResponseStarted?.() }
  onBodySent (chunk: unknown): unknown { return this.#handler.onBodySent?.(chunk) }
  onRequestSent (): unknown { return this.#handler.onRequestSent?.() }

  onHeaders (statusCode: number, rawHeaders: unknown, resume: unknown, statusText: unknown): unknown {
    this.#clear()
    return this.#handler.onHeaders?.(statusCode, rawHeaders, resume, statusText)
  }

  onUpgrade (statusCode: number, rawHeaders: unknown, socket: unknown): unknown {
    this.#clear()
    return this.#handler.onUpgrade?.(statusCode, rawHeaders, socket)
  }

  onData (chunk: unknown): unknown { return this.#handler.onData?.(chunk) }
  onComplete (trailers: unknown): unknown { return this.#handler.onComplete?.(trailers) }

  onError (err: Error): unknown {
    this.#clear()
    return this.#handler.onError?.(err)
  }
}

/**
 * `root` with every dispatch under the deadline. A Dispatcher of its own, so
 * undici's request() (which reply-from calls) runs on it and reaches this
 * dispatch; a Proxy around `root` cost a trap per property read on the hot
 * path. Closing or destroying it does the same to `owned`: the upstream's
 * token dispatcher, which the server never sees on its own.
 */
export class DeadlineDispatcher extends Dispatcher {
  readonly #root: Dispatcher
  readonly #timeoutMs: number
  readonly #owned: Dispatcher | undefined

  constructor (root: Dispatcher, timeoutMs: number, owned?: Dispatcher) {
    super()
    this.#root = root
    this.#timeoutMs = timeoutMs
    this.#owned = owned
  }

  override dispatch (options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    return this.#root.dispatch(options, new DeadlineHandler(this.#timeoutMs, handler as unknown as Handler) as unknown as Dispatcher.DispatchHandler)
  }

  override close (): Promise<void>
  override close (callback: () => void): void
  override close (callback?: () => void): Promise<void> | void {
    return settle(Promise.all([this.#root.close(), this.#owned?.close()]), callback)
  }

  override destroy (): Promise<void>
  override destroy (err: Error | null): Promise<void>
  override destroy (callback: () => void): void
  override destroy (err: Error | null, callback: () => void): void
  override destroy (errOrCallback?: Error | null | (() => void), callback?: () => void): Promise<void> | void {
    const err = typeof errOrCallback === 'function' ? null : errOrCallback ?? null
    return settle(Promise.all([this.#root.destroy(err), this.#owned?.destroy(err)]), typeof errOrCallback === 'function' ? errOrCallback : callback)
  }
}

/** undici's two calling conventions: a promise, or a callback when one is given. */
function settle (work: Promise<unknown>, callback: (() => void) | undefined): Promise<void> | void {
  const done = work.then(() => {})
  if (callback === undefined) return done
  done.then(callback, callback)
}
