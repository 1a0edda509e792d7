/**
 * Read a config file (YAML or JSON), interpolate, validate. Returns the
 * resolved Config or every issue; never throws for a bad file.
 */
import { readFileSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { isMap, isScalar, parseDocument, type Document } from 'yaml'
import { explainOrigin, interpolate, type ValueOrigin } from './interpolate.js'
import type { ConfigIssue } from './issues.js'
import type { Config } from './types.js'
import { validateConfig } from './validate.js'

/**
 * Where the config's `${...}` references were: the paths (in the file's
 * terms: `upstreams.halaxy.auth.clientSecret`, `server.allow[0]`) of the
 * strings that held one, and the values they gave.
 */
export interface Interpolated {
  readonly paths: readonly string[]
  readonly values: readonly string[]
}

export type LoadResult =
  | { config: Config, issues?: undefined, files: readonly string[], interpolated: Interpolated }
  /** `files`: the `${file:}` files named, read or not (a reload watches them, so a missing one is seen when it comes). */
  | { config?: undefined, issues: ConfigIssue[], files?: readonly string[] }

export function loadConfigFile (file: string, env: NodeJS.ProcessEnv = process.env): LoadResult {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (err) {
    return { issues: [{ path: '', message: `cannot read config file ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})` }] }
  }
  let raw: unknown
  try {
    // YAML 1.2 is a superset of JSON: one parser reads both.
    const document = parseDocument(text, { prettyErrors: true })
    // A warning (an unknown !tag or %directive) is a problem too: the value it marks would be used
    // untagged, and the yaml package's own report (a process warning) quotes the source line, a secret perhaps.
    const problems = document.errors.length > 0 ? document.errors.slice(0, 1) : document.warnings
    if (problems.length > 0) return { issues: problems.map((problem) => notYaml(file, problem.message)) }
    headersAsWritten(document)
    raw = document.toJS()
  } catch (err) {
    return { issues: [notYaml(file, (err as Error).message)] }
  }
  return resolveConfig(raw, { env, baseDir: dirname(resolve(file)) })
}

/**
 * A header value is text: `X-Api-Key: 0123` is the string 0123, not the number 123 that YAML
 * reads (nor `1.10` the number 1.1, nor `True` a boolean). Every scalar of the header maps
 * (`upstreams.<name>.headers`, `telemetry.headers`) is taken as it was written; nothing else
 * (an upstream named `headers`, a key of that name elsewhere) is touched.
 */
function headersAsWritten (document: Document): void {
  const upstreams = document.get('upstreams')
  const maps = [document.getIn(['telemetry', 'headers'])]
  if (isMap(upstreams)) for (const upstream of upstreams.items) if (isMap(upstream.value)) maps.push(upstream.value.get('headers'))
  for (const headers of maps) {
    if (!isMap(headers)) continue
    for (const { value } of headers.items) {
      if (isScalar(value) && (typeof value.value === 'number' || typeof value.value === 'boolean') && value.source !== undefined) value.value = value.source
    }
  }
}

/** The parser's first line only ("… at line 4, column 41"): the lines below it quote the source. */
function notYaml (file: string, message: string): ConfigIssue {
  return { path: '', message: `${file} is not valid YAML or JSON: ${(message.split('\n')[0] ?? '').replace(/:$/, '')}` }
}

export function resolveConfig (raw: unknown, options: { env?: NodeJS.ProcessEnv, baseDir?: string } = {}): LoadResult {
  const issues: ConfigIssue[] = []
  const files = new Set<string>()
  const origins = new Map<string, ValueOrigin>()
  const paths = new Set<string>()
  const context = { env: options.env ?? process.env, baseDir: options.baseDir ?? process.cwd(), issues, substituted: new Set<string>(), files, origins, paths }
  const interpolated = interpolate(raw ?? {}, context)
  const validated = validateConfig(interpolated)
  // A bad value that one `${VAR}` gave names the variable: `${PORT} is "abc": expected a port number 0-65535`.
  const problems = (validated.issues ?? []).map((issue) => explainOrigin(issue, origins))
  if (issues.length === 0) {
    return validated.issues === undefined
      ? { config: validated.config, files: [...files], interpolated: { paths: [...paths], values: [...context.substituted] } }
      : { issues: problems, files: [...files] }
  }
  // Report the unresolved references, plus what else is wrong elsewhere.
  const reported = new Set(issues.map((issue) => issue.path))
  return { issues: [...issues, ...problems.filter((issue) => !reported.has(issue.path))], files: [...files] }
}
