/**
 * The upstream's `timeout` for the response headers, on a native timer, and
 * the dispatch watcher, as one undici interceptor (`Dispatcher.compose`) on
 * undici's handler API (onRequestStart / onResponseStart / ...).
 *
 * undici's own headersTimeout (which reply-from also sets to the same
 * `timeout`) runs on its coarse "fast timers" whatever its length
 * (lib/dispatcher/client-h1.js, TIMEOUT_HEADERS; lib/util/timers.js,
 * RESOLUTION_MS = 1000): a 300 ms timeout answered at 800 ms would pass.
 * This interceptor aborts the request with undici's HeadersTimeoutError at
 * the deadline, which the proxy turns into a 504. Body stalls keep undici's
 * bodyTimeout (coarse is fine there).
 *
 * compose() hands an interceptor the new handler API, and undici's request()
 * (which reply-from calls) still speaks the old one, so each response's
 * headers are parsed, turned back into raw buffers and parsed again: 12 %
 * more instructions per proxied request than a wrapper on the deprecated
 * onConnect / onHeaders API, which tollgate used until the paired benchmark
 * failed to show the saving clear of 3 % (docs/benchmarks.md, *The hot path
 * on public APIs*).
 */
import type { IncomingHttpHeaders } from 'node:http'
import type { Duplex } from 'node:stream'
import { errors, type Dispatcher } from 'undici'

type Controller = Dispatcher.DispatchController

/**
 * Who a dispatch belongs to (the proxy's exchange), told when the request
 * can be aborted and when its response headers arrive. It rides on the
 * request's headers under a symbol: reply-from copies them with
 * Object.assign (symbols included) and undici sends only string keys.
 */
export interface DispatchWatcher {
  /** The request is on its way; `abort` stops it (the app went away). */
  dispatched (abort: (err: Error) => void): void
  /** Response headers arrived (names lower-cased, as undici parses them). */
  headers (statusCode: number, headers: IncomingHttpHeaders): void
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

/** Exported for DeadlineList's tests; the proxy only meets it through `withDeadline`. */
export class DeadlineHandler implements Dispatcher.DispatchHandler {
  // DeadlineList's links: the handler is its own list node, so listing it allocates nothing.
  deadline = 0
  prev: DeadlineHandler | undefined = undefined
  next: DeadlineHandler | undefined = undefined
  listed = false
  readonly #handler: Dispatcher.DispatchHandler
  readonly #list: DeadlineList
  readonly #watcher: DispatchWatcher | undefined
  #controller: Controller | undefined
  #expired = false

  constructor (list: DeadlineList, handler: Dispatcher.DispatchHandler, watcher?: DispatchWatcher) {
    this.#handler = handler
    this.#list = list
    this.#watcher = watcher
    // Counted from dispatch, so waiting for a pooled connection is part of it.
    list.add(this)
  }

  expire (): void {
    this.#expired = true
    this.#controller?.abort(new errors.HeadersTimeoutError())
  }

  onRequestStart (controller: Controller, context: unknown): void {
    this.#controller = controller
    this.#handler.onRequestStart?.(controller, context)
    this.#watcher?.dispatched((err) => { controller.abort(err) })
    if (this.#expired) controller.abort(new errors.HeadersTimeoutError())
  }

  onRequestUpgrade (controller: Controller, statusCode: number, headers: IncomingHttpHeaders, socket: Duplex): void {
    this.#list.remove(this)
    this.#handler.onRequestUpgrade?.(controller, statusCode, headers, socket)
  }

  onResponseStart (controller: Controller, statusCode: number, headers: IncomingHttpHeaders, statusMessage?: string): void {
    this.#list.remove(this)
    this.#watcher?.headers(statusCode, headers)
    this.#handler.onResponseStart?.(controller, statusCode, headers, statusMessage)
  }

  onResponseData (controller: Controller, chunk: Buffer): void {
    this.#handler.onResponseData?.(controller, chunk)
  }

  onResponseEnd (controller: Controller, trailers: IncomingHttpHeaders): void {
    this.#handler.onResponseEnd?.(controller, trailers)
  }

  onResponseError (controller: Controller, err: Error): void {
    this.#list.remove(this)
    this.#handler.onResponseError?.(controller, err)
  }
}

/**
 * An interceptor for `Dispatcher.compose`: every dispatch under one deadline
 * list (one per upstream: its requests share one timeout), and shown to the
 * watcher it carries, if any.
 */
export function withDeadline (timeoutMs: number): Dispatcher.DispatcherComposeInterceptor {
  const deadlines = new DeadlineList(timeoutMs)
  return (dispatch) => function deadlineDispatch (options, handler) {
    const watcher = (options.headers as Record<symbol, DispatchWatcher | undefined> | undefined)?.[kDispatchWatcher]
    return dispatch(options, new DeadlineHandler(deadlines, handler, watcher))
  }
}
