/**
 * The upstream's `timeout` for the response headers, on a native timer, and
 * the dispatch watcher: both through undici's public `request()` options, a
 * `signal` per attempt and the response callback.
 *
 * undici's own headersTimeout (which reply-from also sets to the same
 * `timeout`) runs on its coarse "fast timers" whatever its length
 * (lib/dispatcher/client-h1.js, TIMEOUT_HEADERS; lib/util/timers.js,
 * RESOLUTION_MS = 1000): a 300 ms timeout answered at 800 ms would pass.
 * Here the attempt's signal aborts it with undici's HeadersTimeoutError at the
 * deadline, which the proxy turns into a 504. Body stalls keep undici's
 * bodyTimeout (coarse is fine there).
 *
 * Why not an interceptor (`Dispatcher.compose`): compose hands interceptors
 * undici's new handler API while request(), which reply-from calls, still
 * speaks the old one, so each response's headers were parsed, turned back into
 * raw buffers and parsed again: 12 % more instructions per proxied request
 * (docs/benchmarks.md, *The hot path on public APIs*). A signal and a callback
 * leave undici's request path as it is.
 */
import { EventEmitter } from 'node:events'
import type { IncomingHttpHeaders } from 'node:http'
import { errors } from 'undici'

/**
 * Who a dispatch belongs to (the proxy's exchange), told when the request
 * can be aborted and when its response headers arrive. It rides on the
 * request's headers under a symbol: reply-from copies them with
 * Object.assign (symbols included) and undici sends only string keys.
 */
export interface DispatchWatcher {
  /** The request is on its way; `attempt.abort(err)` stops it (the app went away). */
  dispatched (attempt: Attempt): void
  /** Response headers arrived (names lower-cased, as undici parses them). */
  headers (statusCode: number, headers: IncomingHttpHeaders): void
}

export const kDispatchWatcher = Symbol('tollgate.dispatchWatcher')

/**
 * One attempt on the wire: the `signal` undici's request() takes (an
 * EventEmitter that emits 'abort' with `reason` set, as undici documents) and
 * its node in its upstream's DeadlineList.
 */
export class Attempt extends EventEmitter {
  aborted = false
  reason: Error | undefined = undefined
  // DeadlineList's links: the attempt is its own list node, so listing it allocates nothing.
  deadline = 0
  prev: Attempt | undefined = undefined
  next: Attempt | undefined = undefined
  listed = false

  abort (reason: Error): void {
    if (this.aborted) return
    this.aborted = true
    this.reason = reason
    this.emit('abort')
  }

  /** Its deadline passed with no response headers. */
  expire (): void {
    this.abort(new errors.HeadersTimeoutError())
  }
}

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
  #head: Attempt | undefined
  #tail: Attempt | undefined
  #timer: NodeJS.Timeout | undefined

  constructor (timeoutMs: number) {
    this.timeoutMs = timeoutMs
  }

  add (entry: Attempt): void {
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

  remove (entry: Attempt): void {
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
