/**
 * The upstream's own view of its budget, from the de-facto `x-ratelimit-*`
 * response headers (Halaxy sends them, as do GitHub and many others).
 */

const COUNT = /^\d+$/

/**
 * `x-ratelimit-remaining` as a count, or undefined when absent or not a
 * non-negative integer. Header names are expected lower-cased, as Node and
 * undici give them. A repeated header gives its smallest value: the safe side.
 */
export function remainingFrom (headers: Readonly<Record<string, string | readonly string[] | undefined>>): number | undefined {
  const value = headers['x-ratelimit-remaining']
  if (typeof value === 'string') return count(value)
  let least: number | undefined
  for (const v of value ?? []) {
    const n = count(v)
    if (n !== undefined && (least === undefined || n < least)) least = n
  }
  return least
}

function count (raw: string): number | undefined {
  const value = raw.trim()
  return COUNT.test(value) ? Number(value) : undefined
}
