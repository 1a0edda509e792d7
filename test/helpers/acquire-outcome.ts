/** What became of a limiter acquire, readable at any moment of a fake-clock test. */
import type { Permit } from '../../src/limit/limiter.js'
import type { LimiterRejection } from '../../src/limit/rejection.js'

export interface Outcome { settled: boolean, permit?: Permit, error?: LimiterRejection }

/** Follows `acquired`: `settled` turns true with the permit or the rejection once the promise settles. */
export function track (acquired: Permit | Promise<Permit>): Outcome {
  const outcome: Outcome = { settled: false }
  Promise.resolve(acquired).then(
    (permit) => { Object.assign(outcome, { settled: true, permit }) },
    (error: LimiterRejection) => { Object.assign(outcome, { settled: true, error }) }
  )
  return outcome
}
