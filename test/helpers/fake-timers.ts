/**
 * Timers whose time moves only when a test says so (`advance`): for code
 * that takes dir-watch.ts's `Timers` (the reload debounce).
 */
import type { Timers } from '../../src/ops/dir-watch.js'

export interface FakeTimers extends Timers {
  /** Move time on by `ms`, running every timer that falls due, earliest first. */
  advance (ms: number): void
  /** Timers set and not yet run or cleared. */
  pending (): number
}

export function fakeTimers (): FakeTimers {
  let now = 0
  let next = 0
  const due = new Map<number, { at: number, fn: () => void }>()
  return {
    setTimeout: (fn, ms) => {
      due.set(++next, { at: now + ms, fn })
      return next
    },
    clearTimeout: (handle) => { due.delete(handle as number) },
    advance (ms) {
      now += ms
      for (const [id, timer] of [...due].sort(([, a], [, b]) => a.at - b.at)) {
        if (timer.at > now) continue
        due.delete(id)
        timer.fn()
      }
    },
    pending: () => due.size
  }
}
