/**
 * "did you mean …" for a misspelt key or name: the closest candidate by
 * edit distance (insertions, deletions, substitutions and swaps of two
 * neighbours, case ignored), when it is close enough to be a typo.
 */

/** The candidate `word` is most likely a typo of, or undefined when none is close. */
export function closest (word: string, candidates: Iterable<string>): string | undefined {
  const lower = word.toLowerCase()
  // Short words: one edit, or every three-letter word would suggest every other.
  const limit = lower.length <= 3 ? 1 : 2
  let best: string | undefined
  let bestDistance = limit + 1
  for (const candidate of candidates) {
    const distance = editDistance(lower, candidate.toLowerCase())
    if (distance < bestDistance) {
      best = candidate
      bestDistance = distance
    }
  }
  return best
}

/** Optimal string alignment distance (Damerau-Levenshtein without repeated edits of one substring). */
export function editDistance (a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 2) return Math.abs(a.length - b.length)
  let before: number[] = []
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const current = [i]
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      let value = Math.min((previous[j] as number) + 1, (current[j - 1] as number) + 1, (previous[j - 1] as number) + cost)
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) value = Math.min(value, (before[j - 2] as number) + 1)
      current.push(value)
    }
    before = previous
    previous = current
  }
  return previous[b.length] as number
}
