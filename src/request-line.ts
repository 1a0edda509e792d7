/**
 * The one log line per request, serialised by hand. It is exactly what
 * `logger.info(fields, 'request completed')` prints (the same keys in the
 * same order, undefined fields left out) and goes through the same censor
 * and destination (RedactingLogger.writeLine); pino's generic serialiser
 * (its key loop, string escaping, time and level lookups) cost several µs
 * per request in the profile, the largest of tollgate's own costs
 * (docs/benchmarks.md).
 */

export interface RequestLineFields {
  /** Written as is: a uuid or an id validRequestId() accepted (no character JSON must escape). */
  readonly requestId: string
  readonly upstream: string | undefined
  /** Written as is: Node's parser accepts only token characters in a method. */
  readonly method: string
  /** The path only: the query string may carry personal data. */
  readonly path: string
  readonly status: number
  /** Rounded to hundredths. */
  readonly durationMs: number
  readonly attempts: number | undefined
  readonly waitedMs: number | undefined
}

/** pino's numeric levels for the two this line uses. */
export const INFO = 30
export const DEBUG = 20

// pino's `base` for tollgate (src/logger.ts) and its default message key.
const BASE = ',"service":"tollgate"'
const MESSAGE = ',"msg":"request completed"}\n'

export function formatRequestLine (level: number, time: number, fields: RequestLineFields): string {
  let line = `{"level":${level},"time":${time}${BASE},"requestId":"${fields.requestId}"`
  if (fields.upstream !== undefined) line += `,"upstream":${JSON.stringify(fields.upstream)}`
  line += `,"method":"${fields.method}","path":${JSON.stringify(fields.path)},"status":${fields.status},"durationMs":${hundredths(fields.durationMs)}`
  if (fields.attempts !== undefined) line += `,"attempts":${fields.attempts}`
  if (fields.waitedMs !== undefined) line += `,"waitedMs":${hundredths(fields.waitedMs)}`
  return line + MESSAGE
}

/**
 * A number with at most two decimals, as JSON. Built from integers: turning
 * a fractional double into its shortest decimal (what String() and pino do)
 * cost more than the rest of the line in the profile.
 */
export function hundredths (value: number): string {
  const scaled = Math.round(value * 100)
  if (!Number.isSafeInteger(scaled)) return Number.isFinite(value) ? String(value) : 'null'
  const magnitude = Math.abs(scaled)
  const whole = Math.floor(magnitude / 100)
  const cents = magnitude - whole * 100
  const sign = scaled < 0 ? '-' : ''
  if (cents === 0) return `${sign}${whole}`
  return cents % 10 === 0 ? `${sign}${whole}.${cents / 10}` : `${sign}${whole}.${cents < 10 ? '0' : ''}${cents}`
}
