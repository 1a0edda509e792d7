/**
 * Durations and sizes as the config file writes them.
 * A duration is a number of seconds or `250ms`, `30s`, `15m`, `1h`;
 * a size is a number of bytes or `512kb`, `10mb`, `1gb` (k = 1024).
 */

// A bare number is seconds, also as a string: `${TIMEOUT:-30}` interpolates to one.
const DURATION = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)?$/
const DURATION_UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }

const SIZE = /^(\d+(?:\.\d+)?)\s*(b|kb|mb|gb)?$/i
const SIZE_UNIT_BYTES: Record<string, number> = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 }

/** Milliseconds, or undefined when `value` is not a duration. */
export function parseDuration (value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? Math.round(value * 1000) : undefined
  if (typeof value !== 'string') return undefined
  const match = DURATION.exec(value.trim())
  if (match === null) return undefined
  return Math.round(Number(match[1]) * (DURATION_UNIT_MS[match[2] ?? 's'] as number))
}

/** Bytes, or undefined when `value` is not a size. */
export function parseSize (value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isInteger(value) && value >= 0 ? value : undefined
  if (typeof value !== 'string') return undefined
  const match = SIZE.exec(value.trim())
  if (match === null) return undefined
  return Math.floor(Number(match[1]) * (SIZE_UNIT_BYTES[(match[2] ?? 'b').toLowerCase()] as number))
}
