/**
 * `telemetry`: OpenTelemetry tracing over OTLP/HTTP, off unless an endpoint
 * is configured. The file's section is checked here like any other; the
 * standard OTEL_* variables are applied over it afterwards (cli/config-source.ts,
 * with the other overrides), so that a variable wins over the file, after
 * every reload too, and a bad value is a config problem named by its
 * variable.
 *
 * Every header value (the file's and OTEL_EXPORTER_OTLP_HEADERS') joins the
 * config's secrets: collectors take API keys there, and the log censor,
 * `check --print` and /status must never show one.
 *
 * @see https://opentelemetry.io/docs/specs/otel/protocol/exporter/ (endpoint, protocol, headers)
 * @see https://opentelemetry.io/docs/specs/otel/configuration/sdk-environment-variables/ (sampler, resource, OTEL_SDK_DISABLED)
 */
import { z } from 'zod'
import type { ConfigIssue } from './issues.js'
import type { TelemetryConfig, TraceProtocol, TraceSampler } from './types.js'
import { optional } from './values.js'

export const DEFAULT_SERVICE_NAME = 'tollgate'
export const DEFAULT_TRACE_PROTOCOL: TraceProtocol = 'http/protobuf'
/** The SDK's default: follow the app's sampling decision, sample every trace tollgate starts. */
export const DEFAULT_TRACE_SAMPLER: TraceSampler = 'parentbased_always_on'

const PROTOCOLS: readonly TraceProtocol[] = ['http/protobuf', 'http/json']
const SAMPLERS: readonly TraceSampler[] = ['always_on', 'always_off', 'traceidratio', 'parentbased_always_on', 'parentbased_always_off', 'parentbased_traceidratio']
const GRPC = 'grpc is not supported: tollgate exports OTLP over HTTP; use http/protobuf (the default) or http/json and the collector\'s HTTP port (4318)'
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/
const URL_MESSAGE = 'must be an absolute http(s) URL without credentials, e.g. http://otel-collector:4318'

/** The file's `telemetry` section (validate.ts parses it with the others). */
export const telemetrySchema = z.strictObject({
  /** OTLP/HTTP base URL: spans go to `<endpoint>/v1/traces`, as with OTEL_EXPORTER_OTLP_ENDPOINT. */
  endpoint: z.string().optional(),
  /** The traces URL exactly, as OTEL_EXPORTER_OTLP_TRACES_ENDPOINT. */
  tracesEndpoint: z.string().optional(),
  protocol: z.string().optional(),
  headers: z.record(z.string().regex(HEADER_NAME, { message: 'is not a valid header name' }), z.union([z.string(), z.number()]).transform(String)).optional(),
  serviceName: z.string().min(1).optional(),
  resourceAttributes: z.record(z.string().min(1), z.union([z.string(), z.number(), z.boolean()]).transform(String)).optional(),
  sampler: z.string().optional(),
  samplerArg: z.union([z.number(), z.string()]).optional()
})

export type RawTelemetry = z.output<typeof telemetrySchema>

/** The file's section, resolved; its header values join `secrets`. */
export function resolveTelemetry (raw: RawTelemetry, issues: ConfigIssue[], secrets: Set<string>): TelemetryConfig {
  const url = (value: string | undefined, path: string): string | undefined => {
    if (value !== undefined && !isHttpUrl(value)) issues.push({ path, message: URL_MESSAGE })
    return value
  }
  const headers: Record<string, string> = {}
  for (const [name, value] of Object.entries(raw.headers ?? {})) {
    if (/[\r\n\0]/.test(value)) issues.push({ path: `telemetry.headers.${name}`, message: 'must not contain CR, LF or NUL' })
    headers[name.toLowerCase()] = value
    secrets.add(value)
  }
  const sampler = raw.sampler === undefined ? DEFAULT_TRACE_SAMPLER : samplerOf(raw.sampler, 'telemetry.sampler', issues)
  return {
    ...optional('endpoint', url(raw.endpoint, 'telemetry.endpoint')),
    ...optional('tracesEndpoint', url(raw.tracesEndpoint, 'telemetry.tracesEndpoint')),
    protocol: raw.protocol === undefined ? DEFAULT_TRACE_PROTOCOL : protocolOf(raw.protocol, 'telemetry.protocol', issues),
    headers,
    serviceName: raw.serviceName ?? DEFAULT_SERVICE_NAME,
    resourceAttributes: raw.resourceAttributes ?? {},
    sampler,
    ...optional('samplerArg', raw.samplerArg === undefined ? undefined : ratioOf(String(raw.samplerArg), 'telemetry.samplerArg', issues))
  }
}

export interface TelemetryOverrides {
  /** Absent: tracing is off (no endpoint anywhere, or OTEL_SDK_DISABLED=true). */
  readonly telemetry: TelemetryConfig | undefined
  /** `telemetry.endpoint from OTEL_EXPORTER_OTLP_ENDPOINT`, as applyOverrides words what it changed. */
  readonly applied: readonly string[]
  /** A bad value, named by its variable (never quoted: a header value is a secret). */
  readonly issues: readonly ConfigIssue[]
  /** Header values from the environment, for the censor. */
  readonly secrets: readonly string[]
}

/**
 * The standard OTEL_* variables over the file's section. An empty variable
 * is unset (the specification's rule). Tracing runs only where an endpoint
 * is known: `tracesUrl()` says where.
 */
export function applyTelemetryEnv (file: TelemetryConfig | undefined, env: NodeJS.ProcessEnv): TelemetryOverrides {
  const applied: string[] = []
  const issues: ConfigIssue[] = []
  const secrets: string[] = []
  const read = (name: string): string | undefined => {
    const value = env[name]?.trim()
    return value === undefined || value === '' ? undefined : value
  }
  const disabled = read('OTEL_SDK_DISABLED')
  if (disabled !== undefined && disabled.toLowerCase() === 'true') {
    return { telemetry: undefined, applied: file === undefined ? [] : ['telemetry from OTEL_SDK_DISABLED'], issues, secrets }
  }
  const set: Record<string, unknown> = {}
  const from = (field: string, name: string, value: unknown): void => {
    set[field] = value
    applied.push(`telemetry.${field} from ${name}`)
  }

  const tracesEndpoint = read('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT')
  const endpoint = read('OTEL_EXPORTER_OTLP_ENDPOINT')
  if (tracesEndpoint !== undefined) {
    if (isHttpUrl(tracesEndpoint)) from('tracesEndpoint', 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', tracesEndpoint)
    else issues.push({ path: 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', message: URL_MESSAGE })
  }
  if (endpoint !== undefined) {
    if (isHttpUrl(endpoint)) {
      from('endpoint', 'OTEL_EXPORTER_OTLP_ENDPOINT', endpoint)
      // The generic variable wins over the file's exact URL; the traces variable over both.
      if (tracesEndpoint === undefined) set.tracesEndpoint = undefined
    } else {
      issues.push({ path: 'OTEL_EXPORTER_OTLP_ENDPOINT', message: URL_MESSAGE })
    }
  }

  for (const name of ['OTEL_EXPORTER_OTLP_TRACES_PROTOCOL', 'OTEL_EXPORTER_OTLP_PROTOCOL']) {
    const value = read(name)
    if (value === undefined) continue
    from('protocol', name, protocolOf(value, name, issues))
    break
  }

  let headers: Record<string, string> | undefined
  // The generic variable first, the traces one over it, both over the file, header by header.
  for (const name of ['OTEL_EXPORTER_OTLP_HEADERS', 'OTEL_EXPORTER_OTLP_TRACES_HEADERS']) {
    const value = read(name)
    if (value === undefined) continue
    const parsed = parsePairs(value)
    if (parsed === undefined || Object.keys(parsed).some((key) => !HEADER_NAME.test(key)) || Object.values(parsed).some((v) => /[\r\n\0]/.test(v))) {
      issues.push({ path: name, message: 'must be a list of name=value pairs, comma-separated, values percent-encoded (api-key=abc%20def,x-team=ops)' })
      continue
    }
    headers = { ...(headers ?? file?.headers), ...lowerKeys(parsed) }
    secrets.push(...Object.values(parsed))
    applied.push(`telemetry.headers from ${name}`)
  }
  if (headers !== undefined) set.headers = headers

  const resource = read('OTEL_RESOURCE_ATTRIBUTES')
  if (resource !== undefined) {
    const parsed = parsePairs(resource)
    if (parsed === undefined) {
      issues.push({ path: 'OTEL_RESOURCE_ATTRIBUTES', message: 'must be a list of key=value pairs, comma-separated, values percent-encoded (deployment.environment=prod,team=ops)' })
    } else {
      const { 'service.name': serviceName, ...attributes } = parsed
      from('resourceAttributes', 'OTEL_RESOURCE_ATTRIBUTES', { ...file?.resourceAttributes, ...attributes })
      if (serviceName !== undefined && serviceName !== '') from('serviceName', 'OTEL_RESOURCE_ATTRIBUTES', serviceName)
    }
  }
  const serviceName = read('OTEL_SERVICE_NAME')
  if (serviceName !== undefined) from('serviceName', 'OTEL_SERVICE_NAME', serviceName)

  const sampler = read('OTEL_TRACES_SAMPLER')
  if (sampler !== undefined) from('sampler', 'OTEL_TRACES_SAMPLER', samplerOf(sampler, 'OTEL_TRACES_SAMPLER', issues))
  const samplerArg = read('OTEL_TRACES_SAMPLER_ARG')
  if (samplerArg !== undefined) from('samplerArg', 'OTEL_TRACES_SAMPLER_ARG', ratioOf(samplerArg, 'OTEL_TRACES_SAMPLER_ARG', issues))

  if (applied.length === 0) return { telemetry: file, applied, issues, secrets }
  const merged = { ...defaultTelemetry(), ...file, ...set } as Record<string, unknown>
  for (const [key, value] of Object.entries(merged)) if (value === undefined) delete merged[key]
  return { telemetry: merged as unknown as TelemetryConfig, applied, issues, secrets }
}

/** Where spans are sent, or undefined when tracing is off. */
export function tracesUrl (telemetry: TelemetryConfig | undefined): string | undefined {
  if (telemetry === undefined) return undefined
  if (telemetry.tracesEndpoint !== undefined) return telemetry.tracesEndpoint
  if (telemetry.endpoint === undefined) return undefined
  // The specification's rule for OTEL_EXPORTER_OTLP_ENDPOINT: the signal's path is appended.
  return `${telemetry.endpoint.replace(/\/+$/, '')}/v1/traces`
}

function defaultTelemetry (): TelemetryConfig {
  return { protocol: DEFAULT_TRACE_PROTOCOL, headers: {}, serviceName: DEFAULT_SERVICE_NAME, resourceAttributes: {}, sampler: DEFAULT_TRACE_SAMPLER }
}

function protocolOf (value: string, path: string, issues: ConfigIssue[]): TraceProtocol {
  if ((PROTOCOLS as readonly string[]).includes(value)) return value as TraceProtocol
  issues.push({ path, message: value === 'grpc' ? GRPC : `must be http/protobuf or http/json, not ${JSON.stringify(value.slice(0, 40))}` })
  return DEFAULT_TRACE_PROTOCOL
}

function samplerOf (value: string, path: string, issues: ConfigIssue[]): TraceSampler {
  if ((SAMPLERS as readonly string[]).includes(value)) return value as TraceSampler
  issues.push({ path, message: `must be one of ${SAMPLERS.join(', ')}, not ${JSON.stringify(value.slice(0, 40))}` })
  return DEFAULT_TRACE_SAMPLER
}

/** A sampling ratio: a number from 0 to 1. */
function ratioOf (value: string, path: string, issues: ConfigIssue[]): number {
  const ratio = /^\s*(\d+(\.\d*)?|\.\d+)\s*$/.test(value) ? Number(value) : Number.NaN
  if (ratio >= 0 && ratio <= 1) return ratio
  issues.push({ path, message: 'must be a ratio from 0 to 1, e.g. 0.25' })
  return 1
}

/**
 * `a=1,b=x%20y` → { a: '1', b: 'x y' }: the W3C Baggage list the
 * specification gives OTEL_EXPORTER_OTLP_HEADERS and OTEL_RESOURCE_ATTRIBUTES,
 * without its `;` metadata. Undefined when any member is not `key=value`.
 */
function parsePairs (value: string): Record<string, string> | undefined {
  const pairs: Record<string, string> = {}
  for (const member of value.split(',')) {
    if (member.trim() === '') continue
    const equals = member.indexOf('=')
    if (equals <= 0) return undefined
    const key = member.slice(0, equals).trim()
    let decoded: string
    try {
      decoded = decodeURIComponent(member.slice(equals + 1).trim())
    } catch {
      return undefined
    }
    if (key === '') return undefined
    pairs[key] = decoded
  }
  return pairs
}

function lowerKeys (record: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(record).map(([key, value]) => [key.toLowerCase(), value]))
}

function isHttpUrl (value: string): boolean {
  try {
    const url = new URL(value)
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.username === '' && url.password === ''
  } catch {
    return false
  }
}
