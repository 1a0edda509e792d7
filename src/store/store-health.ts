/**
 * Is the shared store lost, and is it back? Issue 14, "slow is not down": one
 * command that times out is a problem for its own request, not an outage.
 *
 * - Lost: when the connection drops, or when commands have failed for
 *   `unavailableAfterMs` (store.unavailableAfter) without a success between.
 * - Back: after `recoverAfterMs` of successes without a failure between.
 *
 * Bookkeeping only, on an injected monotonic clock (habit H9). The connection
 * (redis-client.ts) feeds it every outcome it sees and, while it is in doubt
 * (failing, or lost), keeps a probe running, so that the evidence does not
 * depend on traffic: a failure now and another an hour later are not an hour
 * of failures, because the probe's successes come between.
 */

/** What an outcome changed: the store was just declared lost, or back; or nothing. */
export type Flip = 'lost' | 'back' | undefined

export interface StoreHealthOptions {
  readonly unavailableAfterMs: number
  readonly recoverAfterMs: number
  /** Monotonic ms. */
  readonly now: () => number
}

export class StoreHealth {
  readonly #unavailableAfterMs: number
  readonly #recoverAfterMs: number
  readonly #now: () => number
  /** Not until the first connection. */
  #up = false
  /** Up: when the current row of failures began. */
  #failingSince: number | undefined
  /** Down: when the current row of successes began. */
  #okSince: number | undefined

  constructor (options: StoreHealthOptions) {
    this.#unavailableAfterMs = options.unavailableAfterMs
    this.#recoverAfterMs = options.recoverAfterMs
    this.#now = options.now
  }

  get up (): boolean {
    return this.#up
  }

  /** Up with no failure outstanding: nothing to watch (a success then costs nothing). */
  get settled (): boolean {
    return this.#up && this.#failingSince === undefined
  }

  /** The first connection: up at once, with no outage behind it to be sure of. */
  connected (): Flip {
    if (this.#up) return undefined
    this.#up = true
    this.#failingSince = undefined
    return 'back'
  }

  /** A command was answered. */
  succeeded (): Flip {
    if (this.#up) {
      this.#failingSince = undefined
      return undefined
    }
    const now = this.#now()
    this.#okSince ??= now
    if (now - this.#okSince < this.#recoverAfterMs) return undefined
    this.#up = true
    this.#okSince = undefined
    return 'back'
  }

  /** A command failed (timed out, or could not be sent). */
  failed (): Flip {
    if (!this.#up) {
      this.#okSince = undefined
      return undefined
    }
    const now = this.#now()
    this.#failingSince ??= now
    if (now - this.#failingSince < this.#unavailableAfterMs) return undefined
    return this.dropped()
  }

  /** The connection dropped: lost at once. */
  dropped (): Flip {
    this.#okSince = undefined
    if (!this.#up) return undefined
    this.#up = false
    this.#failingSince = undefined
    return 'lost'
  }
}
