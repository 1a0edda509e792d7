/**
 * What one replica may start while the shared window is out of its reach
 * (Redis lost, or one command that timed out): its share of the vendor's
 * quota, so that the k replicas falling back together stay within N
 * (issue 17). A spell begins at the first start decided without Redis and
 * ends at the next successful acquire.
 *
 * - For one window from the spell's beginning, at most ⌊R/k⌋ starts, R the
 *   shared remaining at this replica's last successful acquire: the window
 *   before the loss may already hold N − R starts of all replicas.
 * - After that, ⌊N/k⌋ in any window, counted over this replica's own starts
 *   (the local window has counted them all along, the first phase's too).
 *
 * k is the most live replicas seen in the last three heartbeats
 * (replica-registry.ts), this one included, or `store.fallbackReplicas` when
 * this replica never saw the set; with neither, nothing rate-limited starts.
 * R unknown (no acquire yet) counts as 0, so the first window starts
 * nothing; but a replica that never reached Redis (k from fallbackReplicas)
 * takes ⌊N/k⌋ at once: it has made no start the others could not see.
 *
 * For one window after the store is back, the share still bounds this
 * replica, beside the shared window: replicas come back one by one (each after
 * its own probe), and a Redis that restarted empty learns each one's starts
 * only when that one writes them back. Until then the first ones back would
 * see a window emptier than the vendor's.
 */
import type { Clock, SlidingWindow, StartWindow } from '../limit/sliding-window.js'

/** k, and whether it was seen in the replica set (else it is store.fallbackReplicas, or unknown). */
export interface Divisor {
  readonly k: number | undefined
  readonly seen: boolean
}

export class FallbackShare implements StartWindow {
  readonly requests: number
  readonly windowMs: number
  readonly #local: SlidingWindow
  readonly #now: Clock
  readonly #replicas: () => Divisor
  /** When the spell began (monotonic ms); undefined outside a spell. */
  #since: number | undefined = undefined
  /** ⌊R/k⌋: the first window's budget. */
  #firstBudget = 0
  /** ⌊N/k⌋: the budget of any later window. */
  #share = 0
  /** Units taken since the spell began (given-back ones leave). */
  #takenSince = 0
  /** After a spell: until when the share still bounds this replica beside the shared window. */
  #coolingUntil = 0

  constructor (local: SlidingWindow, now: Clock, replicas: () => Divisor) {
    this.#local = local
    this.#now = now
    this.#replicas = replicas
    this.requests = local.requests
    this.windowMs = local.windowMs
  }

  get active (): boolean {
    return this.#since !== undefined
  }

  /** The first start decided without Redis: fix the share for this spell. */
  begin (sharedRemaining: number | undefined): void {
    if (this.#since !== undefined) return
    const { k, seen } = this.#replicas()
    this.#since = this.#now()
    this.#takenSince = 0
    this.#share = k === undefined ? 0 : Math.floor(this.requests / k)
    // Never having reached Redis, the replica knows no R: store.fallbackReplicas is the operator's word that ⌊N/k⌋ each is safe.
    const remaining = sharedRemaining ?? (seen ? 0 : this.requests)
    this.#firstBudget = k === undefined ? 0 : Math.floor(Math.min(remaining, this.requests) / k)
  }

  /** The store answered again: the share keeps bounding this replica for one more window (room()). */
  end (): void {
    if (this.#since === undefined) return
    this.#since = undefined
    this.#coolingUntil = this.#now() + this.windowMs
  }

  /**
   * While a spell is open, and in the window after it, what the share lets
   * this replica ask the shared window for: units, or when none, the ms until
   * one may free. Undefined when the share does not apply.
   */
  room (): { readonly units: number, readonly waitMs: number } | undefined {
    const since = this.#since
    if (since === undefined && this.#coolingUntil === 0) return undefined
    const now = this.#now()
    // The spell is still open (the store is back, nothing acquired yet): the first ask is bounded too.
    if (since !== undefined && this.#inFirstWindow(now)) {
      const units = Math.max(0, this.#firstBudget - this.#takenSince)
      return { units, waitMs: units > 0 ? 0 : since + this.windowMs - now }
    }
    if (since === undefined && now >= this.#coolingUntil) {
      this.#coolingUntil = 0
      return undefined
    }
    const { used, oldestFreesAt } = this.#local.held()
    const units = Math.max(0, this.#share - used)
    return { units, waitMs: units > 0 ? 0 : Math.max(1, oldestFreesAt - now) }
  }

  /** Starts this replica may make per window now (the first window's budget, then the share); undefined outside a spell. */
  allowed (): number | undefined {
    if (this.#since === undefined) return undefined
    return this.#inFirstWindow(this.#now()) ? this.#firstBudget : this.#share
  }

  tryTake (): number {
    const since = this.#since
    if (since !== undefined) {
      const now = this.#now()
      if (this.#inFirstWindow(now)) {
        if (this.#takenSince >= this.#firstBudget) return since + this.windowMs - now
      } else {
        const { used, oldestFreesAt } = this.#local.held()
        // A lower bound: the limiter asks again then.
        if (used >= this.#share) return Math.max(1, oldestFreesAt - now)
      }
    }
    const waitMs = this.#local.tryTake()
    if (waitMs === 0) this.#takenSince++
    return waitMs
  }

  commit (): void {
    this.#local.commit()
  }

  giveBack (): void {
    this.#local.giveBack()
    if (this.#takenSince > 0) this.#takenSince--
  }

  remaining (): number {
    const allowed = this.allowed()
    if (allowed === undefined) return this.#local.remaining()
    const used = this.#inFirstWindow(this.#now()) ? this.#takenSince : this.#local.held().used
    return Math.max(0, Math.min(allowed - used, this.#local.remaining()))
  }

  nextFreeAt (): number {
    return this.#local.nextFreeAt()
  }

  addPhantomStarts (n: number): void {
    this.#local.addPhantomStarts(n)
  }

  #inFirstWindow (now: number): boolean {
    return this.#since !== undefined && now < this.#since + this.windowMs
  }
}
