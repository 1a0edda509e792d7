/**
 * `${VAR}`, `${VAR:-default}` and `${file:PATH}` in config strings.
 * `$${` stands for a literal `${`. Every failure becomes a ConfigIssue naming
 * the field and the variable or file, never the value.
 */
import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import type { ConfigIssue } from './issues.js'

const REFERENCE = /\$\$\{|\$\{([^}]*)\}/g
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/

export interface InterpolationContext {
  readonly env: NodeJS.ProcessEnv
  /** Relative `${file:...}` paths resolve against this folder (the config file's). */
  readonly baseDir: string
  readonly issues: ConfigIssue[]
  /** Every value that came from the environment or a file: candidates for redaction. */
  readonly substituted: Set<string>
  /** Absolute paths of every file read: watched for secret rotation. */
  readonly files?: Set<string>
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
  if (!text.includes('${')) return text
  return text.replace(REFERENCE, (whole, reference: string | undefined) => {
    if (reference === undefined) return '${'
    const value = resolveReference(reference, context, path)
    if (value === undefined) return whole
    if (value !== '') context.substituted.add(value)
    return value
  })
}

function resolveReference (reference: string, context: InterpolationContext, path: string): string | undefined {
  if (reference.startsWith('file:')) {
    const file = reference.slice(5).trim()
    // eslint-disable-next-line no-template-curly-in-string -- the config syntax, quoted
    if (file === '') return issue(context, path, 'empty ${file:} reference')
    const absolute = resolve(context.baseDir, file)
    context.files?.add(absolute)
    try {
      // Trailing newline trimmed: secrets written by `echo` or editors end with one.
      return readFileSync(absolute, 'utf8').replace(/\r?\n$/, '')
    } catch (err) {
      return issue(context, path, `cannot read file ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'}; a relative path is read from the config file's folder)`)
    }
  }
  const separator = reference.indexOf(':-')
  const name = separator === -1 ? reference : reference.slice(0, separator)
  if (!ENV_NAME.test(name)) return issue(context, path, `\${${name}} is not a valid variable reference`)
  const value = context.env[name]
  if (value !== undefined && value !== '') return value
  if (separator !== -1) return reference.slice(separator + 2)
  return issue(context, path, `environment variable ${name} is not set`)
}

function issue (context: InterpolationContext, path: string, message: string): undefined {
  context.issues.push({ path, message })
  return undefined
}
