/**
 * The limiter's FIFO wait queue: an intrusive doubly linked list, so a waiter
 * that aborts leaves from anywhere in O(1), and no array shifts on the way out.
 *
 * Deadlines: a first attempt waits at most maxWait, so its deadline is later
 * than every earlier arrival's and the earliest deadline is the head's. A
 * retry's budget is what is left of its maxWait, so its deadline can be
 * earlier than its predecessors'. Such a waiter marks the queue unordered
 * until it next empties, and the deadline checks then scan it whole; retries
 * during a backlog are rare, the common case stays O(1).
 */
import type { Permit } from './limiter.js'

/** A queued acquire. It is its own list node, so leaving the queue from anywhere is O(1). */
export class Waiter {
  prev: Waiter | undefined
  next: Waiter | undefined
  onAbort: (() => void) | undefined
  readonly enqueuedAt: number
  readonly deadline: number
  readonly resolve: (permit: Permit) => void
  readonly reject: (reason: unknown) => void
  readonly signal: AbortSignal | undefined

  constructor (enqueuedAt: number, deadline: number, resolve: (permit: Permit) => void, reject: (reason: unknown) => void, signal: AbortSignal | undefined) {
    this.enqueuedAt = enqueuedAt
    this.deadline = deadline
    this.resolve = resolve
    this.reject = reject
    this.signal = signal
  }
}

export interface WaitQueueHooks {
  /** A removal left the queue empty (the limiters reset their queue-full warning here). */
  readonly emptied: () => void
  /** An abort took a waiter out and rejected its promise. */
  readonly aborted: () => void
}

export class WaitQueue {
  readonly #emptied: () => void
  readonly #aborted: () => void
  #head: Waiter | undefined
  #tail: Waiter | undefined
  #length = 0
  /** Some waiter's deadline is earlier than one queued before it. */
  #unordered = false

  constructor (hooks: WaitQueueHooks) {
    this.#emptied = hooks.emptied
    this.#aborted = hooks.aborted
  }

  /** The oldest waiter. */
  get head (): Waiter | undefined {
    return this.#head
  }

  /** The newest waiter. */
  get tail (): Waiter | undefined {
    return this.#tail
  }

  get length (): number {
    return this.#length
  }

  /**
   * Queue an acquire at the tail. The promise settles when the limiter
   * resolves or rejects the waiter, or when `signal` aborts: then the waiter
   * leaves the queue, the promise rejects with the signal's reason, and the
   * `aborted` hook runs.
   */
  wait (enqueuedAt: number, deadline: number, signal: AbortSignal | undefined): Promise<Permit> {
    return new Promise<Permit>((resolve, reject) => {
      const waiter = new Waiter(enqueuedAt, deadline, resolve, reject, signal)
      if (signal !== undefined) {
        waiter.onAbort = () => {
          this.remove(waiter)
          reject(signal.reason)
          this.#aborted()
        }
        signal.addEventListener('abort', waiter.onAbort, { once: true })
      }
      this.push(waiter)
    })
  }

  push (waiter: Waiter): void {
    if (this.#tail !== undefined && waiter.deadline < this.#tail.deadline) this.#unordered = true
    waiter.prev = this.#tail
    if (this.#tail === undefined) this.#head = waiter
    else this.#tail.next = waiter
    this.#tail = waiter
    this.#length++
  }

  /** Take `waiter` out of the queue and stop listening for its abort. */
  remove (waiter: Waiter): void {
    if (waiter.prev === undefined) this.#head = waiter.next
    else waiter.prev.next = waiter.next
    if (waiter.next === undefined) this.#tail = waiter.prev
    else waiter.next.prev = waiter.prev
    waiter.prev = waiter.next = undefined
    if (waiter.onAbort !== undefined) waiter.signal?.removeEventListener('abort', waiter.onAbort)
    if (--this.#length === 0) {
      this.#unordered = false
      this.#emptied()
    }
  }

  /** The earliest deadline of any waiter but the `spared` oldest, or Infinity when none such waits. */
  earliestDeadline (spared = 0): number {
    let waiter = this.#nth(spared)
    if (!this.#unordered) return waiter?.deadline ?? Infinity
    let earliest = Infinity
    for (; waiter !== undefined; waiter = waiter.next) {
      if (waiter.deadline < earliest) earliest = waiter.deadline
    }
    return earliest
  }

  /** The waiter with `n` older ones before it. */
  #nth (n: number): Waiter | undefined {
    let waiter = this.#head
    for (let i = 0; i < n && waiter !== undefined; i++) waiter = waiter.next
    return waiter
  }

  /** Remove and return the oldest waiter. */
  shift (): Waiter | undefined {
    const waiter = this.#head
    if (waiter !== undefined) this.remove(waiter)
    return waiter
  }

  /** Remove and return the newest waiter. */
  pop (): Waiter | undefined {
    const waiter = this.#tail
    if (waiter !== undefined) this.remove(waiter)
    return waiter
  }

  /**
   * Reject, oldest first, the waiters whose deadline is at or before `now`,
   * but the `spared` oldest; returns how many. In an ordered queue they are
   * the first after the spared ones.
   */
  rejectExpired (now: number, reason: (waiter: Waiter, now: number) => unknown, spared = 0): number {
    let n = 0
    for (let waiter = this.#nth(spared); waiter !== undefined;) {
      const next = waiter.next
      if (waiter.deadline <= now) {
        this.remove(waiter)
        n++
        waiter.reject(reason(waiter, now))
      } else if (!this.#unordered) {
        break
      }
      waiter = next
    }
    return n
  }

  /** Reject every waiter, oldest first; returns how many. */
  rejectAll (reason: () => unknown): number {
    let n = 0
    for (let waiter = this.#head; waiter !== undefined; waiter = this.#head) {
      this.remove(waiter)
      n++
      waiter.reject(reason())
    }
    return n
  }
}
