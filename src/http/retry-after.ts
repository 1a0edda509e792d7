/**
 * `Retry-After` → milliseconds to wait, plus a cap the caller can log
 * (openid-client handleRetryAfter).
 */

/** Used when a 429 carries no `retry-after`, or one we cannot read (the contract's "1s when absent"). */
export const DEFAULT_RETRY_AFTER_MS = 1000

/** Longest pause we honour: a vendor bug must not stall an upstream for hours. */
export const MAX_RETRY_AFTER_MS = 10 * 60_000

const DELTA_SECONDS = /^\d+(?:\.\d+)?$/
const DAY = '(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)'
const LONG_DAY = '(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)'
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']
const MONTH = `(${MONTHS.join('|')})`
const TIME = '(\\d{2}):(\\d{2}):(\\d{2})'
// RFC 9110 §5.6.7: recipients must accept all three forms.
const IMF_FIXDATE = new RegExp(`^${DAY}, (\\d{2}) ${MONTH} (\\d{4}) ${TIME} GMT$`)
const RFC850_DATE = new RegExp(`^${LONG_DAY}, (\\d{2})-${MONTH}-(\\d{2}) ${TIME} GMT$`)
const ASCTIME_DATE = new RegExp(`^${DAY} ${MONTH} ([ \\d]\\d) ${TIME} (\\d{4})$`)

/**
 * Milliseconds to wait from `nowMs`: delta-seconds or an HTTP-date; never
 * negative (a date in the past means "now"). Absent or unreadable values give
 * DEFAULT_RETRY_AFTER_MS. With several values (a repeated header) the longest
 * wins: waiting too long costs latency, too short costs another 429.
 *
 * Not capped: pass the result through `capRetryAfter`.
 * @see https://www.rfc-editor.org/rfc/rfc9110#section-10.2.3
 */
export function parseRetryAfter (value: string | readonly string[] | undefined, nowMs: number): number {
  if (typeof value === 'string') return parseOne(value, nowMs) ?? DEFAULT_RETRY_AFTER_MS
  let longest: number | undefined
  for (const v of value ?? []) {
    const ms = parseOne(v, nowMs)
    if (ms !== undefined && (longest === undefined || ms > longest)) longest = ms
  }
  return longest ?? DEFAULT_RETRY_AFTER_MS
}

/** `ms` bounded by `capMs`; `capped` tells the caller to log that the upstream asked for more. */
export function capRetryAfter (ms: number, capMs: number = MAX_RETRY_AFTER_MS): { ms: number, capped: boolean } {
  return ms > capMs ? { ms: capMs, capped: true } : { ms, capped: false }
}

function parseOne (raw: string, nowMs: number): number | undefined {
  const value = raw.trim()
  // Fractions are not RFC delta-seconds, but some APIs send them and their meaning is plain.
  if (DELTA_SECONDS.test(value)) return Math.min(Math.ceil(Number(value) * 1000), Number.MAX_SAFE_INTEGER)
  const at = parseHttpDate(value, nowMs)
  return at === undefined ? undefined : Math.max(0, at - nowMs)
}

/** Epoch ms of an HTTP-date in any of its three forms, or undefined. */
function parseHttpDate (value: string, nowMs: number): number | undefined {
  let m = IMF_FIXDATE.exec(value)
  if (m !== null) return utc(Number(m[3]), m[2], m[1], m[4], m[5], m[6])
  m = RFC850_DATE.exec(value)
  if (m !== null) return utc(fullYear(Number(m[3]), nowMs), m[2], m[1], m[4], m[5], m[6])
  m = ASCTIME_DATE.exec(value)
  if (m !== null) return utc(Number(m[6]), m[1], m[2], m[3], m[4], m[5])
  return undefined
}

/**
 * RFC 9110 §5.6.7: a two-digit year that would be more than 50 years in the
 * future is the most recent past year with those digits.
 */
function fullYear (yy: number, nowMs: number): number {
  const thisYear = new Date(nowMs).getUTCFullYear()
  const year = thisYear - (thisYear % 100) + yy
  return year > thisYear + 50 ? year - 100 : year
}

type Field = string | undefined

function utc (year: number, month: Field, day: Field, hours: Field, minutes: Field, seconds: Field): number | undefined {
  const d = Number(day)
  const h = Number(hours)
  const m = Number(minutes)
  const s = Number(seconds)
  if (h > 23 || m > 59 || s > 60) return undefined
  // A leap second (:60) is read as :59; Date.UTC would roll it into the next minute.
  const ms = Date.UTC(year, MONTHS.indexOf(month as string), d, h, m, Math.min(s, 59))
  // Date.UTC also rolls 31 Feb into March: a day that does not exist is garbage, not a date.
  return new Date(ms).getUTCDate() === d ? ms : undefined
}
