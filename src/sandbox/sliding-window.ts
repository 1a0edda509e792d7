/**
 * Halaxy's limiter as its page describes it (Halaxy's page, "Rate limits"):
 * "rate-limited to 500 requests per minute. The API uses a sliding window
 * rate limiter", with x-ratelimit-limit / x-ratelimit-remaining on each
 * answer and, when exceeded, 429 with "a retry-after header that tells you
 * how many seconds to wait before sending another request".
 *
 * Exact sliding log: the start times of the last `requests` admitted
 * requests, in a ring. A request started at t counts against every window
 * that contains t, so it stops counting at t + windowMs. Refused requests are
 * not recorded: they did not start.
 */

export interface WindowDecision {
  readonly allowed: boolean
  readonly limit: number
  /** Admissions left in the window after this decision. */
  readonly remaining: number
  /** When refused: milliseconds until the oldest admitted request leaves the window. */
  readonly retryAfterMs: number
}

export class SlidingWindow {
  readonly #requests: number
  readonly #windowMs: number
  readonly #starts: Float64Array
  #head = 0
  #count = 0

  constructor (requests: number, windowMs: number) {
    this.#requests = requests
    this.#windowMs = windowMs
    this.#starts = new Float64Array(requests)
  }

  take (now: number): WindowDecision {
    this.#expire(now)
    if (this.#count >= this.#requests) {
      const oldest = this.#starts[this.#head] ?? now
      return { allowed: false, limit: this.#requests, remaining: 0, retryAfterMs: oldest + this.#windowMs - now }
    }
    this.#starts[(this.#head + this.#count) % this.#requests] = now
    this.#count++
    return { allowed: true, limit: this.#requests, remaining: this.#requests - this.#count, retryAfterMs: 0 }
  }

  /** Drops starts that left the window; at most `requests` steps. */
  #expire (now: number): void {
    const horizon = now - this.#windowMs
    while (this.#count > 0 && (this.#starts[this.#head] ?? Infinity) <= horizon) {
      this.#head = (this.#head + 1) % this.#requests
      this.#count--
    }
  }
}
