/**
 * The `clock` step: this machine's wall clock against the token endpoint's
 * `Date` header. A signed assertion's `iat` and `exp`, and a JWT access
 * token's `exp`, are read by a server against its own clock; a skew of more
 * than a few tens of seconds gets assertions refused as expired or not yet
 * valid.
 *
 * `Date` has a resolution of one second (RFC 9110 §5.6.7), so the server's
 * moment is taken as the middle of the second it names, and ours as the
 * middle of the round trip; the uncertainty is half a second plus half the
 * round trip.
 *
 * @see https://www.rfc-editor.org/rfc/rfc9110#section-6.6.1 (Date)
 */
import type { RecordedAnswer } from './recording-dispatcher.js'
import { ok, skip, warn, type StepOutcome } from './step.js'

/** Beyond this, warn: assertions live 60 s (src/auth/assertion.ts) and servers allow little leeway. */
export const CLOCK_WARN_MS = 30_000

export function checkClock (answer: Pick<RecordedAnswer, 'date' | 'sentAt' | 'receivedAt'>): StepOutcome {
  if (answer.date === undefined) return skip('the token endpoint sent no Date header')
  const serverMs = Date.parse(answer.date)
  if (Number.isNaN(serverMs)) return skip('the token endpoint\'s Date header is not a date')
  const roundTrip = Math.max(0, answer.receivedAt - answer.sentAt)
  const offsetMs = serverMs + 500 - (answer.sentAt + roundTrip / 2)
  const margin = 500 + roundTrip / 2
  const seconds = (ms: number): string => (Math.abs(ms) / 1000).toFixed(1)
  const line = `offset ${offsetMs < 0 ? '-' : '+'}${seconds(offsetMs)} s (±${seconds(margin)} s) vs the token endpoint's Date`
  if (Math.abs(offsetMs) - margin <= CLOCK_WARN_MS) return ok(line)
  const direction = offsetMs > 0 ? 'behind' : 'ahead of'
  return warn(`${line}: this clock is ${seconds(offsetMs)} s ${direction} the token endpoint's; signed assertions (iat, exp) and token lifetimes depend on it: sync it (NTP)`)
}
