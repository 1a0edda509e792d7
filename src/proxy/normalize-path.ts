/**
 * The path an app asks for, below an upstream's prefix, resolved the way an
 * origin server would (RFC 3986 §5.2.4), so that it can be checked against
 * the base before anything is sent. Segments keep their original encoding:
 * tollgate forwards what the app wrote, minus the dot-segments.
 */

/** Why a path is refused; the caller answers 400 with this text. */
export class PathRefusal {
  constructor (readonly reason: string) {}
}

// Characters that make a suffix worth a closer look; anything else is forwarded as is.
const SUSPICIOUS = /[.%\\]/
// Separators some origins decode or honour inside a segment.
const HIDDEN_SEPARATOR = /%2f|%5c/i
const DOT = /%2e/gi

/**
 * `suffix` is the raw path after the prefix ('' or starting with '/'), no query.
 * Returns the path to append to the upstream's base path, or a PathRefusal.
 */
export function normalizeSuffix (suffix: string): string | PathRefusal {
  if (!SUSPICIOUS.test(suffix)) return suffix
  // WHATWG URL parsing turns '\' into '/', so a backslash cannot be forwarded faithfully.
  if (suffix.includes('\\')) return new PathRefusal('contains a backslash')
  if (/%00/.test(suffix)) return new PathRefusal('contains an encoded NUL byte')

  const input = suffix.split('/').slice(1)
  const output: string[] = []
  for (let index = 0; index < input.length; index++) {
    const segment = input[index] as string
    const last = index === input.length - 1
    if (HIDDEN_SEPARATOR.test(segment)) {
      // An encoded slash or backslash next to a dot-segment is a traversal attempt on origins that decode it.
      if (segment.split(/%2f|%5c/i).some((piece) => isDotSegment(piece))) return new PathRefusal('hides a dot-segment behind an encoded slash or backslash')
      output.push(segment)
      continue
    }
    const dots = dotSegment(segment)
    if (dots === 0) {
      output.push(segment)
    } else if (dots === 2 && output.pop() === undefined) {
      return new PathRefusal('climbs above the upstream\'s base path')
    }
    // "/a/." and "/a/b/.." keep their trailing slash, as RFC 3986 §5.2.4 does.
    if (dots !== 0 && last) output.push('')
  }
  return output.length === 0 ? '' : `/${output.join('/')}`
}

function isDotSegment (piece: string): boolean {
  return dotSegment(piece) !== 0
}

/** 1 for ".", 2 for "..", counting %2e as a dot; 0 otherwise. */
function dotSegment (segment: string): number {
  if (segment.length > 6) return 0
  const plain = segment.replace(DOT, '.')
  return plain === '.' ? 1 : plain === '..' ? 2 : 0
}
