/**
 * Where the config comes from and what the command line and the environment
 * change in it. Precedence (docs/cli.md): a flag, then a TOLLGATE_*
 * variable, then the config file, then the defaults.
 *
 * - The file: `--config FILE` (or `check FILE`), else TOLLGATE_CONFIG. An
 *   empty TOLLGATE_CONFIG is an error, not "no config": a template left blank
 *   must not start the demo where a sidecar was meant to run.
 * - `--port N` wins over `server.port`; TOLLGATE_LOG_LEVEL and
 *   TOLLGATE_LOG_FORMAT over `log.level` and `log.format`; the standard
 *   OTEL_* variables over `telemetry` (config/telemetry.ts).
 */
import type { ConfigIssue } from '../config/issues.js'
import { logSchema } from '../config/schema.js'
import type { Config } from '../config/types.js'
import { applyTelemetryEnv } from '../config/telemetry.js'

export type ConfigFrom = '--config' | 'argument' | 'TOLLGATE_CONFIG'

export type ConfigSource =
  | { readonly file: string, readonly from: ConfigFrom, readonly usage?: undefined }
  /** No config anywhere. */
  | { readonly file?: undefined, readonly usage?: undefined }
  /** A usage error, one line. */
  | { readonly file?: undefined, readonly usage: string }

/** The config file named by `--config`, a command's FILE argument, or TOLLGATE_CONFIG, in that order. */
export function configSource (flag: string | undefined, argument: string | undefined, env: NodeJS.ProcessEnv): ConfigSource {
  if (flag !== undefined && argument !== undefined) return { usage: `give the config once: ${argument} or --config ${flag}, not both` }
  if (flag === '' || argument === '') return { usage: '--config needs a file name, not an empty string' }
  if (flag !== undefined) return { file: flag, from: '--config' }
  if (argument !== undefined) return { file: argument, from: 'argument' }
  const variable = env.TOLLGATE_CONFIG
  if (variable === '') return { usage: 'TOLLGATE_CONFIG is set but empty: set it to a config file, or unset it and pass --config FILE' }
  return variable === undefined ? {} : { file: variable, from: 'TOLLGATE_CONFIG' }
}

/** What the command line says over the file. */
export interface FlagOverrides {
  readonly port?: number
}

export interface Overridden {
  readonly config: Config
  /** What was overridden, for the startup line: "server.port from --port". */
  readonly applied: readonly string[]
  /** A bad TOLLGATE_LOG_* value: a config problem (exit 1), named by the variable. */
  readonly issues: readonly ConfigIssue[]
  /** A flag that cannot apply to this config: a usage error (exit 2). */
  readonly usage?: string
}

/** The `log` fields an environment variable overrides. */
const LOG_VARIABLES = [['level', 'TOLLGATE_LOG_LEVEL'], ['format', 'TOLLGATE_LOG_FORMAT']] as const

/**
 * The config with the flags and TOLLGATE_* variables applied. Applied to
 * every config the process takes up (at startup and when secret files make
 * it read the file again), so a flag keeps winning.
 */
export function applyOverrides (config: Config, flags: FlagOverrides, env: NodeJS.ProcessEnv): Overridden {
  const applied: string[] = []
  const issues: ConfigIssue[] = []
  let server = config.server
  let usage: string | undefined
  if (flags.port !== undefined) {
    if (flags.port !== 0 && flags.port === server.adminPort) usage = `--port ${flags.port} is also server.adminPort: choose another port`
    server = { ...server, port: flags.port }
    applied.push('server.port from --port')
  }
  let log: Record<string, unknown> = config.log
  for (const [field, name] of LOG_VARIABLES) {
    const value = env[name]
    // Empty is unset here, as in src/logger.ts, which applies the same variables to the logger it opens.
    if (value === undefined || value === '') continue
    const parsed = logSchema.safeParse({ [field]: value })
    const issue = parsed.error?.issues[0]
    if (issue?.code === 'unrecognized_keys') continue
    if (issue !== undefined) {
      const choices = issue.code === 'invalid_value' ? issue.values.map(String) : []
      const must = choices.length === 2 ? choices.join(' or ') : `one of ${choices.join(', ')}`
      issues.push({ path: name, message: `must be ${must}, not ${JSON.stringify(value.slice(0, 40))}` })
      continue
    }
    log = { ...log, [field]: value }
    applied.push(`log.${field} from ${name}`)
  }
  const traced = applyTelemetryEnv(config.telemetry, env)
  applied.push(...traced.applied)
  issues.push(...traced.issues)
  const { telemetry: _fileTelemetry, ...rest } = config
  const overridden: Config = {
    ...rest,
    server,
    log: log as Config['log'],
    ...(traced.telemetry === undefined ? {} : { telemetry: traced.telemetry }),
    // Header values from OTEL_EXPORTER_OTLP_HEADERS are secrets like the file's.
    secrets: traced.secrets.length === 0 ? config.secrets : [...new Set([...config.secrets, ...traced.secrets.filter((value) => value.length >= 4)])].sort((a, b) => b.length - a.length)
  }
  return usage === undefined ? { config: overridden, applied, issues } : { config: overridden, applied, issues, usage }
}

/** `--port N`: a port number, or a usage error. */
export function parsePort (value: string): number | string {
  const port = /^\d{1,5}$/.test(value) ? Number(value) : Number.NaN
  return Number.isInteger(port) && port <= 65535 ? port : `--port must be a port number (0-65535), not ${value}`
}
