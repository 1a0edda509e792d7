/**
 * The `jti`s of accepted client assertions, each kept until its assertion
 * expires: RFC 7523 §3 lets the server reject a JWT whose `jti` it has seen,
 * and an assertion cannot be replayed after its `exp` anyway. Bounded like
 * the token store: beyond `max` the oldest entry is forgotten.
 */

export class ReplayCache {
  readonly #until = new Map<string, number>()
  readonly #max: number

  constructor (max: number) {
    this.#max = max
  }

  /** True when `id` was already used and its assertion has not expired; otherwise records it. */
  replayed (id: string, expiresAt: number, now: number): boolean {
    const until = this.#until.get(id)
    if (until !== undefined && now < until) return true
    // Delete first so that the re-inserted entry moves to the end of the order.
    this.#until.delete(id)
    this.#until.set(id, expiresAt)
    while (this.#until.size > this.#max) {
      const oldest = this.#until.keys().next()
      if (oldest.done === true) break
      this.#until.delete(oldest.value)
    }
    return false
  }

  clear (): void {
    this.#until.clear()
  }
}
