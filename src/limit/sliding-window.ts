/**
 * An exact sliding-window log: at most `requests` starts in any interval of
 * `windowMs`. A start at `t` occupies one unit during `[t, t + windowMs)`,
 * so for the k-th and (k + requests)-th starts `s[k + requests] - s[k] >= windowMs`.
 *
 * The log is a ring of the last `requests` start times (oldest at `#head`):
 * O(1) per start, no allocation after construction. Only the oldest entry can
 * free the next unit, which is what makes `nextFreeAt` O(1) (lru-cache keeps
 * its clock injected the same way, src/perf.ts).
 */

export type Clock = () => number

/** What the limiter needs of a window; `SlidingWindow` and `NO_WINDOW` provide it. */
export interface StartWindow {
  readonly requests: number
  readonly windowMs: number
  tryTake (): number
  remaining (): number
  nextFreeAt (): number
  addPhantomStarts (n: number): void
}

/**
 * The window of an upstream without `rateLimit`: every start is allowed. The
 * limiter around it still honours pauses (a 429 pauses the whole upstream),
 * maxWait and aborts.
 */
export const NO_WINDOW: StartWindow = Object.freeze({
  requests: Infinity,
  windowMs: 0,
  tryTake: () => 0,
  remaining: () => Infinity,
  nextFreeAt: () => 0,
  addPhantomStarts: () => {}
})

export class SlidingWindow implements StartWindow {
  readonly requests: number
  readonly windowMs: number
  readonly #now: Clock
  readonly #starts: Float64Array
  #head = 0
  #count = 0

  constructor (requests: number, windowMs: number, now: Clock = Date.now) {
    if (!Number.isSafeInteger(requests) || requests < 1) {
      throw new TypeError(`'requests' must be a positive integer, got ${requests}`)
    }
    if (!Number.isFinite(windowMs) || windowMs <= 0) {
      throw new TypeError(`'windowMs' must be a positive number, got ${windowMs}`)
    }
    this.requests = requests
    this.windowMs = windowMs
    this.#now = now
    this.#starts = new Float64Array(requests)
  }

  /** Record a start now if a unit is free: 0 when taken, else the ms until one frees. */
  tryTake (): number {
    const now = this.#now()
    this.#expire(now)
    if (this.#count === this.requests) return this.#oldest() + this.windowMs - now
    this.#push(now)
    return 0
  }

  /** Units free now. */
  remaining (): number {
    this.#expire(this.#now())
    return this.requests - this.#count
  }

  /** Epoch ms at which a unit is (or was) free: now when one is free already. */
  nextFreeAt (): number {
    const now = this.#now()
    this.#expire(now)
    return this.#count < this.requests ? now : this.#oldest() + this.windowMs
  }

  /**
   * Count `n` starts that did not go through this window (another client of
   * the same upstream budget): they take units now and age out like real
   * starts. Capped at the units free, so the budget is never raised.
   */
  addPhantomStarts (n: number): void {
    const now = this.#now()
    this.#expire(now)
    const take = Math.min(Math.floor(n), this.requests - this.#count)
    for (let i = 0; i < take; i++) this.#push(now)
  }

  #oldest (): number {
    return this.#starts[this.#head] as number
  }

  /** Drop the starts whose unit has come back: `t + windowMs <= now`. */
  #expire (now: number): void {
    const cutoff = now - this.windowMs
    while (this.#count > 0 && this.#oldest() <= cutoff) {
      this.#head = this.#head + 1 === this.requests ? 0 : this.#head + 1
      this.#count--
    }
  }

  /**
   * Append at the tail. A clock that steps back is clamped to the newest
   * start, so the ring stays sorted and expiry from the head stays exact:
   * the cost of a backward step is a later start, never an extra one.
   */
  #push (now: number): void {
    let tail = this.#head + this.#count
    if (tail >= this.requests) tail -= this.requests
    if (this.#count > 0) {
      const newest = this.#starts[tail === 0 ? this.requests - 1 : tail - 1] as number
      if (now < newest) now = newest
    }
    this.#starts[tail] = now
    this.#count++
  }
}
