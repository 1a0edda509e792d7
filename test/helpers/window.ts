/** The sliding-window property over a recording of request start times. */

/**
 * The largest number of starts found in any interval of length `windowMs`
 * (half-open: a start at t + windowMs belongs to the next interval).
 */
export function maxInAnyWindow (starts: readonly number[], windowMs: number): number {
  const sorted = [...starts].sort((a, b) => a - b)
  let max = 0
  let from = 0
  for (let to = 0; to < sorted.length; to++) {
    while ((sorted[to] as number) - (sorted[from] as number) >= windowMs) from++
    max = Math.max(max, to - from + 1)
  }
  return max
}
