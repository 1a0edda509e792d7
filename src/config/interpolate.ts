/* eslint-disable no-template-curly-in-string -- messages quote the config syntax, ${NAME} */
/**
 * `${VAR}`, `${VAR:-default}` and `${file:PATH}` in config strings.
 *
 * - `$$` before a name or `{` is a literal `$` (`$${` is a literal `${`);
 *   any other `$` stays as written.
 * - A broken reference (a `${` never closed, one inside another, an unknown
 *   `${kind:…}`) and a value that is exactly `$NAME` are config issues:
 *   they are never sent as a literal credential.
 *
 * Every failure becomes a ConfigIssue naming the field and the variable or
 * file, never the value.
 */
import { readFileSync } from 'node:fs'
import { isAbsolute, resolve } from 'node:path'
import type { ConfigIssue } from './issues.js'

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/
const NAME_START = /[A-Za-z_]/
const LEADING_NAME = /^[A-Za-z_][A-Za-z0-9_]*/
const FORMS = 'the forms are ${NAME}, ${NAME:-default} and ${file:PATH}'

/** Where a config value came from, when the whole string was one `${VAR}` the environment filled. */
export interface ValueOrigin {
  readonly variable: string
  readonly value: string
}

export interface InterpolationContext {
  readonly env: NodeJS.ProcessEnv
  /** Relative `${file:...}` paths resolve against this folder (the config file's). */
  readonly baseDir: string
  readonly issues: ConfigIssue[]
  /** Every value that came from the environment or a file: candidates for redaction. */
  readonly substituted: Set<string>
  /** Absolute paths of every file read: watched for secret rotation. */
  readonly files?: Set<string>
  /** Field path → the variable that gave it its whole value: lets a type problem name the variable. */
  readonly origins?: Map<string, ValueOrigin>
  /** Paths of every string that held a reference: /status hashes the config with their values left out. */
  readonly paths?: Set<string>
}

/** A deep copy of `raw` with every string interpolated. */
export function interpolate (raw: unknown, context: InterpolationContext, path = ''): unknown {
  if (typeof raw === 'string') return interpolateString(raw, context, path)
  if (Array.isArray(raw)) return raw.map((item, index) => interpolate(item, context, `${path}[${index}]`))
  if (raw !== null && typeof raw === 'object') {
    const out: Record<string, unknown> = {}
    for (const [key, value] of Object.entries(raw)) {
      out[key] = interpolate(value, context, path === '' ? key : `${path}.${key}`)
    }
    return out
  }
  return raw
}

function interpolateString (text: string, context: InterpolationContext, path: string): string {
  if (!text.includes('$')) return text
  // `$API_TOKEN` alone is a shell habit, not a literal credential.
  if (text.length > 1 && ENV_NAME.test(text.slice(1)) && text.startsWith('$')) {
    const name = text.slice(1)
    issue(context, path, `$${name} is not interpolated: did you mean \${${name}}? write $$${name} for a literal`)
    return text
  }
  let out = ''
  let index = 0
  let references = 0
  let lastOrigin: ValueOrigin | undefined
  while (index < text.length) {
    const dollar = text.indexOf('$', index)
    if (dollar === -1) {
      out += text.slice(index)
      break
    }
    out += text.slice(index, dollar)
    const next = text[dollar + 1]
    const after = text[dollar + 2]
    if (next === '$' && after !== undefined && (after === '{' || NAME_START.test(after))) {
      // `$$NAME`, `$${`: the escape for a literal `$`.
      out += '$'
      index = dollar + 2
      continue
    }
    if (next !== '{') {
      out += '$'
      index = dollar + 1
      continue
    }
    const start = dollar + 2
    const close = text.indexOf('}', start)
    const nested = text.indexOf('${', start)
    if (nested !== -1 && (close === -1 || nested < close)) return unclosed(text.slice(start, nested), 'is not closed before the next ${ (references do not nest)', context, path, text)
    if (close === -1) return unclosed(text.slice(start), 'is not closed', context, path, text)
    const value = resolveReference(text.slice(start, close), context, path)
    if (value === undefined) return text
    references++
    lastOrigin = value.origin
    if (value.text !== '') context.substituted.add(value.text)
    out += value.text
    index = close + 1
  }
  if (references > 0) context.paths?.add(path)
  // The whole string was one `${VAR}`: a type problem can name the variable.
  if (references === 1 && lastOrigin !== undefined && out === lastOrigin.value) context.origins?.set(path, lastOrigin)
  return out
}

/** An unclosed `${`, shown by its name when it has one, never by other text (it may be a secret). */
function unclosed (body: string, problem: string, context: InterpolationContext, path: string, text: string): string {
  const name = LEADING_NAME.exec(body)?.[0]
  const [shown, fix] = body.startsWith('file:')
    ? ['${file:…', '${file:PATH}']
    : name === undefined ? ['a ${', '${NAME}'] : [`\${${name}`, `\${${name}}`]
  issue(context, path, `${shown} ${problem}: write ${fix}, or $\${ for a literal \${`)
  return text
}

function resolveReference (reference: string, context: InterpolationContext, path: string): { text: string, origin?: ValueOrigin } | undefined {
  if (reference.startsWith('file:')) {
    const file = reference.slice(5).trim()
    if (file === '') return issue(context, path, 'empty ${file:} reference')
    const absolute = resolve(context.baseDir, file)
    context.files?.add(absolute)
    try {
      // Trailing CR/LF trimmed, all of it: secrets written by `echo` or editors end with one,
      // and some (kubectl create secret --from-file of such a file) with more.
      return { text: readFileSync(absolute, 'utf8').replace(/[\r\n]+$/, '') }
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'error'
      return issue(context, path, isAbsolute(file)
        ? `cannot read file ${file} (${code})`
        : `cannot read file ${file} (${code}; a relative path is read from the config file's folder)`)
    }
  }
  // `${vault:secret/x}`, `${aws-ssm:…}`: a secret source tollgate does not read (`${x:-default}` is a variable).
  const kind = /^([a-z][a-z0-9-]*):(?!-)/.exec(reference)?.[1]
  if (kind !== undefined && kind !== 'env') return issue(context, path, `\${${kind}:…} is not a kind tollgate reads: the only kind is \${file:PATH} (a secret store's value: mount it as a file, or pass it as an environment variable); ${FORMS}`)
  const name = LEADING_NAME.exec(reference)?.[0]
  if (name === undefined) return issue(context, path, `\${…} is not a valid reference (a variable name is letters, digits and _, not starting with a digit); ${FORMS}`)
  const rest = reference.slice(name.length)
  if (rest !== '' && !rest.startsWith(':-')) return issue(context, path, unknownForm(name, rest))
  const value = context.env[name]
  if (value !== undefined && value !== '') return { text: value, origin: { variable: name, value } }
  if (rest.startsWith(':-')) return { text: rest.slice(2) }
  if (value === '') return issue(context, path, `environment variable ${name} is set but empty; write \${${name}:-} to allow empty`)
  return issue(context, path, `environment variable ${name} is not set`)
}

/** `${NAME<rest>}` where rest is neither empty nor `:-…`: shell forms tollgate does not have, or a misspelt kind. */
function unknownForm (name: string, rest: string): string {
  let hint: string
  if (rest.startsWith(':') && name.toLowerCase() === 'file') hint = 'did you mean ${file:…}?'
  else if (rest.startsWith(':') && name.toLowerCase() === 'env' && ENV_NAME.test(rest.slice(1))) hint = `did you mean \${${rest.slice(1)}}?`
  else if (/^[:=?+-]/.test(rest)) hint = `a default is written \${${name}:-default}`
  else return `\${…} is not a valid reference (a variable name is letters, digits and _, not starting with a digit); ${FORMS}`
  return `\${${name}${rest.startsWith(':') ? ':' : ''}…} is not a form tollgate knows (${hint}); ${FORMS}`
}

function issue (context: InterpolationContext, path: string, message: string): undefined {
  context.issues.push({ path, message })
  return undefined
}

// Variable names that hold secrets: their values are never shown, even in the wrong field.
const SECRET_NAME = /secret|token|passw|pwd|key|credential|auth|private|cert|salt|cookie|session|signature/i
// Fields whose values are plain scalars (numbers, durations, sizes, enums): a bad one may be quoted.
const SCALAR_FIELD = /(?:^|\.)(?:port|adminPort|requests|maxConcurrent|maxQueue|on429|on401|timeout|shutdownGrace|bodyLimit|headersTimeout|bodyTimeout|window|maxWait|maxTokenTtl|refreshBefore|commandTimeout|unavailableAfter|insecureSkipVerify|level|type|onUnavailable|clientAuth|bodyEncoding|signingAlg|minVersion)$/
const PLAIN_SCALAR = /^[A-Za-z0-9 ._+-]{1,40}$/

/**
 * `server.port: must be a port number 0-65535` for a value `${PORT}` gave
 * becomes `${PORT} is "abc": expected a port number 0-65535`. The value is
 * quoted only for a scalar field, from a variable not named like a secret,
 * when it looks like a plain scalar; else `(value not shown)`.
 */
export function explainOrigin (issue: ConfigIssue, origins: ReadonlyMap<string, ValueOrigin>): ConfigIssue {
  const origin = origins.get(issue.path)
  if (origin === undefined || !issue.message.startsWith('must ')) return issue
  const quotable = SCALAR_FIELD.test(issue.path) && !SECRET_NAME.test(origin.variable) && PLAIN_SCALAR.test(origin.value)
  const shown = quotable ? `\${${origin.variable}} is ${JSON.stringify(origin.value)}` : `\${${origin.variable}} (value not shown)`
  const expected = issue.message.startsWith('must be ') ? `expected ${issue.message.slice('must be '.length)}` : issue.message
  return { path: issue.path, message: `${shown}: ${expected}` }
}
