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

/**
 * Who a dispatch belongs to (the proxy's exchange), told when the request
 * can be aborted and when its response headers arrive. It rides on the
 * request's headers under a symbol: reply-from copies them with
 * Object.assign (symbols included) and undici sends only string keys.
 */
export interface DispatchWatcher {
  /** The request is on its way; `abort` stops it (the app went away). */
  dispatched (abort: (err: Error) => void): void
  /** Response headers arrived, raw as undici's handler API gives them. */
  headers (statusCode: number, rawHeaders: readonly Buffer[]): void
}

export const kDispatchWatcher = Symbol('tollgate.dispatchWatcher')

/**
 * The in-flight requests of one upstream, oldest first. They share one
 * timeout, so dispatch order is deadline order: one native timer, set for
 * the oldest, serves them all, and a request that gets its headers unlinks
 * itself in O(1). Node's own timers keep a list per duration too, but a
 * setTimeout/clearTimeout pair per request (a Timeout object, an async id,
 * a read of libuv's clock) cost about 2 µs per request in the profile.
 */
export class DeadlineList {
  readonly timeoutMs: number
  #head: DeadlineHandler | undefined
  #tail: DeadlineHandler | undefined
  #timer: NodeJS.Timeout | undefined

  constructor (timeoutMs: number) {
    this.timeoutMs = timeoutMs
  }

  add (entry: DeadlineHandler): void {
    entry.deadline = performance.now() + this.timeoutMs
    entry.prev = this.#tail
    entry.next = undefined
    if (this.#tail === undefined) this.#head = entry
    else this.#tail.next = entry
    this.#tail = entry
    entry.listed = true
    // An armed timer is due no later than this entry: it re-arms for the next one when it fires.
    if (this.#timer === undefined) this.#arm(this.timeoutMs)
  }

  remove (entry: DeadlineHandler): void {
    if (!entry.listed) return
    entry.listed = false
    if (entry.prev === undefined) this.#head = entry.next
    else entry.prev.next = entry.next
    if (entry.next === undefined) this.#tail = entry.prev
    else entry.next.prev = entry.prev
    entry.prev = entry.next = undefined
  }

  /** How many requests are waiting for their headers (tests). */
  get size (): number {
    let count = 0
    for (let entry = this.#head; entry !== undefined; entry = entry.next) count++
    return count
  }

  #arm (ms: number): void {
    // Unref'd: a forgotten deadline must not keep a closing process alive.
    this.#timer = setTimeout(() => { this.#expireDue() }, Math.max(1, Math.ceil(ms))).unref()
  }

  #expireDue (): void {
    this.#timer = undefined
    const now = performance.now()
    let entry = this.#head
    while (entry !== undefined && entry.deadline <= now) {
      this.remove(entry)
      entry.expire()
      entry = this.#head
    }
    if (entry !== undefined) this.#arm(entry.deadline - now)
  }
}

/** Exported for DeadlineList's tests; the proxy only meets it through DeadlineDispatcher. */
export class DeadlineHandler {
  // DeadlineList's links: the handler is its own list node, so listing it allocates nothing.
  deadline = 0
  prev: DeadlineHandler | undefined = undefined
  next: DeadlineHandler | undefined = undefined
  listed = false
  readonly #handler: Handler
  readonly #list: DeadlineList
  readonly #watcher: DispatchWatcher | undefined
  #abort: ((err: Error) => void) | undefined
  #expired = false

  constructor (list: DeadlineList, handler: Handler, watcher?: DispatchWatcher) {
    this.#handler = handler
    this.#list = list
    this.#watcher = watcher
    // Counted from dispatch, so waiting for a pooled connection is part of it.
    list.add(this)
  }

  expire (): void {
    this.#expired = true
    this.#abort?.(new errors.HeadersTimeoutError())
  }

  onConnect (abort: (err: Error) => void, context: unknown): unknown {
    this.#abort = abort
    this.#watcher?.dispatched(abort)
    const result = this.#handler.onConnect?.(abort, context)
    if (this.#expired) abort(new errors.HeadersTimeoutError())
    return result
  }

  onResponseStarted (): unknown { return this.#handler.onResponseStarted?.() }
  onBodySent (chunk: unknown): unknown { return this.#handler.onBodySent?.(chunk) }
  onRequestSent (): unknown { return this.#handler.onRequestSent?.() }

  onHeaders (statusCode: number, rawHeaders: Buffer[], resume: unknown, statusText: unknown): unknown {
    this.#list.remove(this)
    this.#watcher?.headers(statusCode, rawHeaders)
    return this.#handler.onHeaders?.(statusCode, rawHeaders, resume, statusText)
  }

  onUpgrade (statusCode: number, rawHeaders: unknown, socket: unknown): unknown {
    this.#list.remove(this)
    return this.#handler.onUpgrade?.(statusCode, rawHeaders, socket)
  }

  onData (chunk: unknown): unknown { return this.#handler.onData?.(chunk) }
  onComplete (trailers: unknown): unknown { return this.#handler.onComplete?.(trailers) }

  onError (err: Error): unknown {
    this.#list.remove(this)
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
  readonly #deadlines: DeadlineList
  readonly #owned: Dispatcher | undefined

  constructor (root: Dispatcher, timeoutMs: number, owned?: Dispatcher) {
    super()
    this.#root = root
    this.#deadlines = new DeadlineList(timeoutMs)
    this.#owned = owned
  }

  override dispatch (options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    const watcher = (options.headers as Record<symbol, DispatchWatcher | undefined> | undefined)?.[kDispatchWatcher]
    return this.#root.dispatch(options, new DeadlineHandler(this.#deadlines, handler as unknown as Handler, watcher) as unknown as Dispatcher.DispatchHandler)
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
