/**
 * The series a PromQL expression selects: each metric name it names and the
 * label names its matchers use. Enough of PromQL's lexer to tell a metric
 * from a function, an aggregation, a keyword, a label list (`by (…)`), a
 * string, a number or duration, and a range (`[5m]`, where Grafana's
 * `$__rate_interval` goes); Grafana's `$variables` are skipped wherever they
 * stand. Used to check that the dashboard and the alert rules ask only for
 * what tollgate exports.
 * @see https://prometheus.io/docs/prometheus/latest/querying/basics/
 */

export interface Selector {
  /** The metric name, as queried: a histogram's `_bucket`, a counter's `_total` included. */
  readonly name: string
  /** Label names in the selector's matchers (`{upstream=~"…", phase="…"}`). */
  readonly labels: readonly string[]
}

const AGGREGATIONS = new Set(['sum', 'min', 'max', 'avg', 'group', 'stddev', 'stdvar', 'count', 'count_values', 'bottomk', 'topk', 'quantile', 'limitk', 'limit_ratio'])
/** Followed by a parenthesised list of label names, not an expression. */
const LABEL_LISTS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right'])
const KEYWORDS = new Set(['bool', 'and', 'or', 'unless', 'offset', 'atan2', 'inf', 'nan'])
const IDENTIFIER = /^[a-zA-Z_:][a-zA-Z0-9_:]*/
const NUMBER = /^(?:0x[0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)[a-zA-Z0-9_]*/
const VARIABLE = /^\$(?:\{[^}]*\}|\w+)/
const MATCHER = /([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)/g

/** Every selector in `expr`, in order. Throws on what it cannot read (an unclosed string, bracket or brace). */
export function selectors (expr: string): Selector[] {
  const found: Selector[] = []
  let i = 0
  while (i < expr.length) {
    const rest = expr.slice(i)
    const c = expr[i] as string
    if (/\s/.test(c)) { i++; continue }
    if (c === '#') { i = expr.includes('\n', i) ? expr.indexOf('\n', i) : expr.length; continue }
    if (c === '"' || c === '\'' || c === '`') { i = endOfString(expr, i); continue }
    if (c === '[') { i = closing(expr, i, '[', ']'); continue }
    if (c === '{') {
      // A selector without a name outside the braces: {__name__="…"}.
      const end = closing(expr, i, '{', '}')
      const block = expr.slice(i, end)
      const name = /__name__\s*=\s*"([^"]*)"/.exec(block)?.[1]
      if (name === undefined) throw new Error(`a selector without a metric name: ${block}`)
      found.push({ name, labels: labelNames(block).filter((label) => label !== '__name__') })
      i = end
      continue
    }
    const variable = VARIABLE.exec(rest)
    if (variable !== null) { i += variable[0].length; continue }
    const number = NUMBER.exec(rest)
    if (number !== null) { i += number[0].length; continue }
    const identifier = IDENTIFIER.exec(rest)
    if (identifier === null) { i++; continue } // an operator or punctuation
    const word = identifier[0]
    i += word.length
    while (i < expr.length && /\s/.test(expr[i] as string)) i++
    if (LABEL_LISTS.has(word)) {
      if (expr[i] === '(') i = closing(expr, i, '(', ')')
      continue
    }
    if (KEYWORDS.has(word) || AGGREGATIONS.has(word) || expr[i] === '(') continue // a function
    let labels: string[] = []
    if (expr[i] === '{') {
      const end = closing(expr, i, '{', '}')
      labels = labelNames(expr.slice(i, end))
      i = end
    }
    found.push({ name: word, labels })
  }
  return found
}

function labelNames (block: string): string[] {
  // Strings out first: a value such as "a=b" must not read as a matcher.
  const bare = block.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""')
  return [...bare.matchAll(MATCHER)].map((match) => match[1] as string)
}

function endOfString (expr: string, start: number): number {
  const quote = expr[start]
  for (let i = start + 1; i < expr.length; i++) {
    if (expr[i] === '\\' && quote !== '`') { i++; continue }
    if (expr[i] === quote) return i + 1
  }
  throw new Error(`unclosed string in ${expr}`)
}

/** The index just after the bracket that closes the one at `start`, strings skipped. */
function closing (expr: string, start: number, open: string, close: string): number {
  let depth = 0
  for (let i = start; i < expr.length; i++) {
    const c = expr[i]
    if (c === '"' || c === '\'' || c === '`') { i = endOfString(expr, i) - 1; continue }
    if (c === open) depth++
    else if (c === close && --depth === 0) return i + 1
  }
  throw new Error(`unclosed ${open} in ${expr}`)
}
