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
import { errors, type Dispatcher } from 'undici'

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

/** `root` with every dispatch under the deadline; everything else (close, destroy, stats) is root's own. */
export function withHeadersDeadline<D extends Dispatcher> (root: D, timeoutMs: number): D {
  const dispatch = (options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean =>
    root.dispatch(options, new DeadlineHandler(timeoutMs, handler as unknown as Handler) as unknown as Dispatcher.DispatchHandler)
  return new Proxy(root, { get: (target, key) => key === 'dispatch' ? dispatch : Reflect.get(target, key) })
}
