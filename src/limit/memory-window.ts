/**
 * The WindowStore of one process: the exact sliding window of
 * sliding-window.ts, or, for an upstream without `rateLimit`, no window at
 * all (every unit granted; the limiter still honours pauses). Everything is
 * synchronous, so the limiter's hot path takes a unit with no promise.
 */
import { type Clock, NO_WINDOW, SlidingWindow, type StartWindow, takeUpTo } from './sliding-window.js'
import type { Grant, Ticket, WindowStore } from './window-store.js'

/** The window counts units, not identities: every ticket is this one. */
const UNIT: Ticket = 'unit'

export function createMemoryWindow (requests: number, windowMs: number, now: Clock): WindowStore {
  return new MemoryWindow(startWindow(requests, windowMs, now), now)
}

function startWindow (requests: number, windowMs: number, now: Clock): StartWindow {
  return requests === Infinity ? NO_WINDOW : new SlidingWindow(requests, windowMs, now)
}

class MemoryWindow implements WindowStore {
  #window: StartWindow
  readonly #now: Clock

  constructor (window: StartWindow, now: Clock) {
    this.#window = window
    this.#now = now
  }

  get requests (): number {
    return this.#window.requests
  }

  get windowMs (): number {
    return this.#window.windowMs
  }

  takeNow (): Ticket | undefined {
    return this.#window.tryTake() === 0 ? UNIT : undefined
  }

  take (n: number): Grant {
    return { ...takeUpTo(this.#window, n), ticket: UNIT, pausedMs: 0 }
  }

  stamp (): void {
    this.#window.commit()
  }

  giveBack (): void {
    this.#window.giveBack()
  }

  learnRemaining (remaining: number): void {
    const excess = this.#window.remaining() - remaining
    if (excess > 0) this.#window.addPhantomStarts(excess)
  }

  /** One process: the limiter's own pause is all there is. */
  pause (): void {}

  remaining (): number {
    return this.#window.remaining()
  }

  freeInMs (): number {
    return Math.max(0, this.#window.nextFreeAt() - this.#now())
  }

  /**
   * A window keeps its starts (SlidingWindow.resize). An upstream that had no
   * rateLimit recorded none: its new window starts empty.
   */
  resize (requests: number, windowMs: number): void {
    if (this.#window instanceof SlidingWindow && requests !== Infinity) this.#window.resize(requests, windowMs)
    else this.#window = startWindow(requests, windowMs, this.#now)
  }

  /** Nothing changes behind the limiter's back. */
  listen (): void {}

  close (): void {}
}
