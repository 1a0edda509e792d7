/**
 * The upstream's `timeout` for the response headers, on a native timer.
 * undici's own headersTimeout runs on its coarse "fast timers", which fire up
 * to about a second late (lib/util/timers.js, RESOLUTION_MS = 1000): a 300 ms
 * timeout answered at 800 ms would pass. This interceptor aborts the request
 * with undici's HeadersTimeoutError at the deadline, which the proxy turns
 * into a 504. Body stalls keep undici's bodyTimeout (coarse is fine there).
 */
import { DecoratorHandler, errors, type Dispatcher } from 'undici'

type Controller = Dispatcher.DispatchController
type Headers = Record<string, string | string[] | undefined>

/** DecoratorHandler speaks undici 7's handler API (it wraps old-style handlers); its typings still describe the old one. */
interface ForwardingHandler {
  onRequestStart (controller: Controller, context: unknown): void
  onResponseStart (controller: Controller, statusCode: number, headers: Headers, statusMessage?: string): void
  onResponseError (controller: Controller, error: Error): void
}
const Forwarding = DecoratorHandler as unknown as new (handler: Dispatcher.DispatchHandler) => ForwardingHandler & Dispatcher.DispatchHandler

export function headersDeadline (timeoutMs: number): Dispatcher.DispatcherComposeInterceptor {
  return (dispatch) => function dispatchWithDeadline (options, handler) {
    return dispatch(options, new DeadlineHandler(timeoutMs, handler))
  }
}

class DeadlineHandler extends Forwarding {
  #timer: NodeJS.Timeout | undefined
  #controller: Controller | undefined
  #expired = false

  constructor (timeoutMs: number, handler: Dispatcher.DispatchHandler) {
    super(handler)
    // Counted from dispatch, so waiting for a pooled connection is part of it.
    this.#timer = setTimeout(() => this.#expire(), timeoutMs)
  }

  #expire (): void {
    this.#timer = undefined
    this.#expired = true
    this.#controller?.abort(new errors.HeadersTimeoutError())
  }

  #clear (): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    this.#timer = undefined
  }

  override onRequestStart (controller: Controller, context: unknown): void {
    this.#controller = controller
    super.onRequestStart(controller, context)
    if (this.#expired) controller.abort(new errors.HeadersTimeoutError())
  }

  override onResponseStart (controller: Controller, statusCode: number, headers: Headers, statusMessage?: string): void {
    this.#clear()
    super.onResponseStart(controller, statusCode, headers, statusMessage)
  }

  override onResponseError (controller: Controller, error: Error): void {
    this.#clear()
    super.onResponseError(controller, error)
  }
}
