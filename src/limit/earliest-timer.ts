/**
 * One timer, kept for the earliest moment asked of it. Asking for a later
 * moment while an earlier one is set changes nothing: when the earlier one
 * fires, the limiter looks again and asks anew. Both limiters keep their
 * queue moving with one of these.
 */
export class EarliestTimer {
  readonly #fire: () => void
  #timer: NodeJS.Timeout | undefined
  #at = 0

  constructor (onTimer: () => void) {
    this.#fire = () => {
      this.#timer = undefined
      onTimer()
    }
  }

  /** Fire at `at` (epoch ms, as `now`), unless set for no later already. */
  armAt (at: number, now: number): void {
    if (this.#timer !== undefined) {
      if (this.#at <= at) return
      clearTimeout(this.#timer)
    }
    this.#at = at
    // Rounded up: a timer must not fire before its unit is free. If it still does
    // (timer and clock disagree by a fraction of a ms), the limiter re-arms.
    // Not unref'd: it settles a pending acquire.
    this.#timer = setTimeout(this.#fire, Math.max(0, Math.ceil(at - now)))
  }

  disarm (): void {
    if (this.#timer === undefined) return
    clearTimeout(this.#timer)
    this.#timer = undefined
  }
}
