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
  readonly requestId: string
  readonly upstream: string | undefined
  readonly method: string
  /** The path only: the query string may carry personal data. */
  readonly path: string
  readonly status: number
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
  let line = `{"level":${level},"time":${time}${BASE},"requestId":${JSON.stringify(fields.requestId)}`
  if (fields.upstream !== undefined) line += `,"upstream":${JSON.stringify(fields.upstream)}`
  line += `,"method":${JSON.stringify(fields.method)},"path":${JSON.stringify(fields.path)},"status":${fields.status},"durationMs":${finite(fields.durationMs)}`
  if (fields.attempts !== undefined) line += `,"attempts":${fields.attempts}`
  if (fields.waitedMs !== undefined) line += `,"waitedMs":${finite(fields.waitedMs)}`
  return line + MESSAGE
}

/** JSON has no NaN or Infinity; pino would print null for them too. */
function finite (value: number): string {
  return Number.isFinite(value) ? String(value) : 'null'
}
