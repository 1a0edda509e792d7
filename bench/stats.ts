/** Small, exact statistics over the harness's samples (no interpolation surprises). */

/** The middle value, or the mean of the two middle values; NaN when empty. */
export function median (values: readonly number[]): number {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b)
  if (sorted.length === 0) return NaN
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid] as number : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2
}

/** Nearest-rank percentile (the value below which `p` % of the samples fall); NaN when empty. */
export function percentile (values: readonly number[], p: number): number {
  const finite = values.filter((v) => Number.isFinite(v))
  if (finite.length === 0) return NaN
  const sorted = [...finite].sort((a, b) => a - b)
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)))
  return sorted[rank - 1] as number
}

export function min (values: readonly number[]): number {
  return values.reduce((a, b) => Math.min(a, b), Infinity)
}

export function max (values: readonly number[]): number {
  return values.reduce((a, b) => Math.max(a, b), -Infinity)
}

/**
 * The sliding-window property over recorded start times: for every i,
 * starts[i + requests] - starts[i] >= windowMs. Returns the pairs that break
 * it and how late each start came after the moment it could have started.
 */
export function windowCheck (starts: readonly number[], requests: number, windowMs: number): { violations: number, lateness: number[] } {
  const sorted = [...starts].sort((a, b) => a - b)
  let violations = 0
  const lateness: number[] = []
  for (let i = 0; i + requests < sorted.length; i++) {
    const gap = (sorted[i + requests] as number) - (sorted[i] as number)
    if (gap < windowMs) violations++
    lateness.push(gap - windowMs)
  }
  return { violations, lateness }
}

/**
 * Achieved rate under overload, as a fraction of the limit: starts in the
 * whole windows from the first start to the last, over what those windows
 * allow. 1 means the upstream got its full budget every window.
 */
export function achievedFraction (starts: readonly number[], requests: number, windowMs: number): { fraction: number, windows: number, counted: number } {
  const sorted = [...starts].sort((a, b) => a - b)
  const first = sorted[0]
  const last = sorted[sorted.length - 1]
  if (first === undefined || last === undefined) return { fraction: NaN, windows: 0, counted: 0 }
  const windows = Math.floor((last - first) / windowMs)
  if (windows === 0) return { fraction: NaN, windows: 0, counted: 0 }
  const end = first + windows * windowMs
  const counted = sorted.filter((t) => t < end).length
  return { fraction: counted / (windows * requests), windows, counted }
}
