/**
 * An exact sliding-window log, exact as the upstream sees it: in no interval
 * of `windowMs` do more than `requests` requests arrive there.
 *
 * A request's arrival at the vendor is not observable: it happens somewhere
 * between our acquire (before connection setup, TLS, event-loop delays: we
 * measured up to 200 ms on a cold pool) and the moment the upstream answers
 * (response headers or an error). So a unit is taken *pending* at acquire
 * (`tryTake`) and stamped when the upstream answers (`commit`); it is held
 * from acquire until `stamp + windowMs`.
 *
 * Why that is safe: arrival v_i lies in [acquire_i, answered_i]. Take any
 * vendor interval shorter than `windowMs` holding arrivals v_1..v_k, and
 * t* = max v_i. At t* every one of those units is held: acquire_i <= v_i <= t*,
 * and t* < v_i + windowMs <= answered_i + windowMs. At most `requests` units
 * are ever held, so k <= requests. No margin is needed; the cost is the
 * latency spent pending, about latency / window of the throughput (0.3 % for
 * a 200 ms call in a 60 s window).
 *
 * The stamps are a ring of at most `requests` entries (oldest at `#head`),
 * pending units are a counter: O(1) per take and commit. The ring starts
 * small and doubles when the window holds more stamps than it ever has, up
 * to `requests`: its memory follows the traffic, not the limit (a limit of
 * 1,000,000 a minute took 8 MB per upstream up front, whatever came, and V8
 * counts that memory when it decides to collect garbage). Stamps are pushed
 * in commit order at the clock's time (clamped if the clock steps back), so
 * the ring is sorted and only the oldest stamp can free the next unit, which
 * is what makes `nextFreeAt` O(1) (lru-cache keeps its clock injected the
 * same way, src/perf.ts).
 */

export type Clock = () => number

/** What the limiter needs of a window; `SlidingWindow` and `NO_WINDOW` provide it. */
export interface StartWindow {
  readonly requests: number
  readonly windowMs: number
  tryTake (): number
  commit (): void
  giveBack (): void
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
  commit: () => {},
  giveBack: () => {},
  remaining: () => Infinity,
  nextFreeAt: () => 0,
  addPhantomStarts: () => {}
})

/**
 * Take up to `n` pending units, one at a time: how many were taken, and when
 * fewer than `n`, the ms until one more could be (else 0).
 */
export function takeUpTo (window: StartWindow, n: number): { taken: number, waitMs: number } {
  let taken = 0
  let waitMs = 0
  while (taken < n) {
    waitMs = window.tryTake()
    if (waitMs !== 0) break
    taken++
  }
  return { taken, waitMs }
}

export class SlidingWindow implements StartWindow {
  /** Changed only by resize(). */
  requests: number
  windowMs: number
  readonly #now: Clock
  /** The ring: its length is the capacity, grown by #push up to `requests`. */
  #starts: Float64Array
  #head = 0
  /** Stamped starts still in the window (in the ring). */
  #count = 0
  /** Units taken and not yet stamped: held, with no end in sight until their commit. */
  #pending = 0

  constructor (requests: number, windowMs: number, now: Clock = Date.now) {
    checkSize(requests, windowMs)
    this.requests = requests
    this.windowMs = windowMs
    this.#now = now
    this.#starts = new Float64Array(Math.min(requests, INITIAL_CAPACITY))
  }

  /**
   * Take a pending unit if one is free: 0 when taken, else the ms until one
   * could free (a lower bound when every unit is pending).
   */
  tryTake (): number {
    const now = this.#now()
    this.#expire(now)
    // `>=`: after a resize to fewer requests, the units held may outnumber the new limit.
    if (this.#count + this.#pending >= this.requests) return this.#nextFree(now) - now
    this.#pending++
    return 0
  }

  /** Stamp one pending unit now: it frees at now + windowMs. Without a pending unit, nothing happens. */
  commit (): void {
    if (this.#pending === 0) return
    this.#pending--
    this.#push(this.#now())
  }

  /** Drop one pending unit unstamped: nothing of its start reached the upstream. */
  giveBack (): void {
    if (this.#pending > 0) this.#pending--
  }

  /** Units free now; pending ones count as used. */
  remaining (): number {
    this.#expire(this.#now())
    return Math.max(0, this.requests - this.#count - this.#pending)
  }

  /**
   * Epoch ms at which a unit is (or was) free: now when one is free already;
   * else when the oldest stamp leaves the window; else, every unit pending,
   * now + windowMs, a lower bound (nothing frees before a commit plus a window).
   */
  nextFreeAt (): number {
    const now = this.#now()
    this.#expire(now)
    return this.#count + this.#pending < this.requests ? now : this.#nextFree(now)
  }

  /**
   * Count `n` starts that did not go through this window (another client of
   * the same upstream budget): they take units now and age out like real
   * starts. Capped at the units free, so the budget is never raised.
   */
  addPhantomStarts (n: number): void {
    const now = this.#now()
    this.#expire(now)
    const take = Math.min(Math.floor(n), this.requests - this.#count - this.#pending)
    for (let i = 0; i < take; i++) this.#push(now)
  }

  /**
   * When this window's own starts must fit a smaller limit (a replica's share
   * while the shared store is away, src/store/fallback-share.ts): units held
   * now (stamped in the window, or pending), and when the oldest stamp frees
   * (now + window when none is stamped).
   */
  held (): { readonly used: number, readonly oldestFreesAt: number } {
    const now = this.#now()
    this.#expire(now)
    return { used: this.#count + this.#pending, oldestFreesAt: this.#nextFree(now) }
  }

  /** Every stamp still in the window, oldest first, as its age in ms (for writing them back to a shared store). */
  forEachStampAge (visit: (ageMs: number) => void): void {
    const now = this.#now()
    this.#expire(now)
    const capacity = this.#starts.length
    for (let i = 0, at = this.#head; i < this.#count; i++, at = at + 1 === capacity ? 0 : at + 1) visit(now - (this.#starts[at] as number))
  }

  /**
   * Take up a changed limit (a config reload) without forgetting what
   * started: stamps are instants, so a new `windowMs` simply applies to them;
   * the newest `requests` stamps are kept and pending units stay pending.
   * Keeping the newest N is exact for a limit of N: while more than N starts
   * are in the window, the newest N are too and the window is full; once at
   * most N are, they are among the newest N. Units held may outnumber a
   * smaller limit until enough age out; nothing starts meanwhile.
   */
  resize (requests: number, windowMs: number): void {
    checkSize(requests, windowMs)
    const keep = Math.min(this.#count, requests)
    const starts = new Float64Array(Math.min(requests, Math.max(keep, INITIAL_CAPACITY)))
    this.#copyNewest(starts, keep)
    this.requests = requests
    this.windowMs = windowMs
    this.#starts = starts
    this.#head = 0
    this.#count = keep
    this.#expire(this.#now())
  }

  /** When the window is full: the oldest stamp's end, or now + window when nothing is stamped. */
  #nextFree (now: number): number {
    return (this.#count > 0 ? this.#oldest() : now) + this.windowMs
  }

  #oldest (): number {
    return this.#starts[this.#head] as number
  }

  /** Drop the starts whose unit has come back: `t + windowMs <= now`. */
  #expire (now: number): void {
    const cutoff = now - this.windowMs
    const capacity = this.#starts.length
    while (this.#count > 0 && this.#oldest() <= cutoff) {
      this.#head = this.#head + 1 === capacity ? 0 : this.#head + 1
      this.#count--
    }
  }

  /** Copy the newest `keep` stamps, oldest first, to the start of `into`. */
  #copyNewest (into: Float64Array, keep: number): void {
    const capacity = this.#starts.length
    for (let i = 0, at = this.#head + this.#count - keep; i < keep; i++, at++) into[i] = this.#starts[at % capacity] as number
  }

  /**
   * Append at the tail; room is guaranteed by `count + pending <= requests`.
   * A clock that steps back is clamped to the newest start, so the ring stays
   * sorted and expiry from the head stays exact: the cost of a backward step
   * is a later start, never an extra one.
   */
  #push (now: number): void {
    if (this.#count === this.#starts.length) {
      if (this.#count < this.requests) {
        this.#grow()
      } else {
        // Full only after a resize to fewer requests left more units pending than free slots: the oldest stamp goes (see resize).
        this.#head = this.#head + 1 === this.#starts.length ? 0 : this.#head + 1
        this.#count--
      }
    }
    const capacity = this.#starts.length
    let tail = this.#head + this.#count
    if (tail >= capacity) tail -= capacity
    if (this.#count > 0) {
      const newest = this.#starts[tail === 0 ? capacity - 1 : tail - 1] as number
      if (now < newest) now = newest
    }
    this.#starts[tail] = now
    this.#count++
  }

  /** Twice the room, up to `requests`, the stamps unwrapped to its start. */
  #grow (): void {
    const starts = new Float64Array(Math.min(this.requests, this.#starts.length * 2))
    this.#copyNewest(starts, this.#count)
    this.#starts = starts
    this.#head = 0
  }
}

/** Stamps the ring has room for before it first grows: 512 bytes. */
const INITIAL_CAPACITY = 64

function checkSize (requests: number, windowMs: number): void {
  if (!Number.isSafeInteger(requests) || requests < 1) {
    throw new TypeError(`'requests' must be a positive integer, got ${requests}`)
  }
  if (!Number.isFinite(windowMs) || windowMs <= 0) {
    throw new TypeError(`'windowMs' must be a positive number, got ${windowMs}`)
  }
}
