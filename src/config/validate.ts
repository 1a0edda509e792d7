/**
 * Raw config (parsed, interpolated) → resolved Config, or every problem found.
 * Collects all issues rather than stopping at the first, so `tollgate check`
 * can print them all (oauth2-proxy pkg/validation).
 */
import { createPrivateKey } from 'node:crypto'
import { BlockList, isIP } from 'node:net'
import type { z } from 'zod'
import { importSigningKey } from '../auth/assertion.js'
import * as defaults from './defaults.js'
import { DEFAULT_UPSTREAM_TIMEOUT_MS } from './defaults.js'
import type { ConfigIssue } from './issues.js'
import { applyPreset } from './preset-merge.js'
import { authSchema, logSchema, serverSchema, storeSchema, topSchema, UPSTREAM_NAME, upstreamBodySchema, type RawAuth, type RawServer, type RawUpstream } from './schema.js'
import { resolveStore } from './store.js'
import { closest } from './suggest.js'
import { resolveTelemetry, telemetrySchema } from './telemetry.js'
import { privateKeyProblem, resolveTls } from './tls.js'
import type { AuthConfig, Config, RateLimitConfig, ServerConfig, SigningAlg, UpstreamConfig } from './types.js'
import { isPlainObject, optional, safeUrl } from './values.js'

export type ValidationResult = { config: Config, issues?: undefined } | { config?: undefined, issues: ConfigIssue[] }

// Hop-by-hop (RFC 9110 §7.6.1) and framing headers: tollgate owns them.
const MANAGED_HEADERS = new Set(['host', 'connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'content-length', 'x-request-id'])
const SENSITIVE_HEADER = /authorization|token|secret|key|cookie|password/i

export function validateConfig (input: unknown): ValidationResult {
  const issues: ConfigIssue[] = []
  const top = topSchema.safeParse(applyPresets(input, issues), { reportInput: true })
  if (!top.success) {
    issues.push(...toConfigIssues(top.error.issues, '', topSchema))
    if (!isPlainObject(input) || !isPlainObject(input.upstreams)) return { issues: dedupe(issues) }
  }
  const raw = (top.success ? top.data : applyPresets(input, [])) as Record<string, unknown>
  const config = resolve(raw, issues)
  return issues.length > 0 ? { issues: dedupe(withoutPresetEchoes(issues)) } : { config }
}

/** Parse one section; its problems join the list with their full path. */
function section<T> (schema: z.ZodType<T>, value: unknown, path: string, issues: ConfigIssue[]): T | undefined {
  // reportInput: a missing key (input undefined) is "required", whatever the schema's type.
  const parsed = schema.safeParse(value, { reportInput: true })
  if (parsed.success) return parsed.data
  issues.push(...toConfigIssues(parsed.error.issues, path, schema))
  return undefined
}

function applyPresets (input: unknown, issues: ConfigIssue[]): unknown {
  if (!isPlainObject(input) || !isPlainObject(input.upstreams)) return input
  const upstreams: Record<string, unknown> = {}
  for (const [name, upstream] of Object.entries(input.upstreams)) {
    upstreams[name] = isPlainObject(upstream) ? applyPreset(upstream, `upstreams.${name}`, issues) : upstream
  }
  return { ...input, upstreams }
}

function resolve (raw: Record<string, unknown>, issues: ConfigIssue[]): Config {
  const secrets = new Set<string>()
  const server = resolveServer(section(serverSchema, raw.server ?? {}, 'server', issues) ?? {}, issues, secrets)
  const store = resolveStore(section(storeSchema, raw.store ?? {}, 'store', issues) ?? {}, issues, secrets)
  const log = section(logSchema, raw.log ?? {}, 'log', issues) ?? {}
  const rawTelemetry = raw.telemetry === undefined ? undefined : section(telemetrySchema, raw.telemetry, 'telemetry', issues)
  const telemetry = rawTelemetry === undefined ? undefined : resolveTelemetry(rawTelemetry, issues, secrets)
  const upstreams: UpstreamConfig[] = []
  const prefixOwners = new Map<string, string>()
  const rawUpstreams = isPlainObject(raw.upstreams) ? raw.upstreams : {}
  if (Object.keys(rawUpstreams).length === 0) issues.push({ path: 'upstreams', message: 'at least one upstream is required' })
  for (const [name, value] of Object.entries(rawUpstreams)) {
    const path = `upstreams.${name}`
    // Checked whatever else is wrong with either upstream: `check` reports the clash on its first run.
    const claimed = claimedPrefix(name, value)
    const owner = claimed === undefined ? undefined : prefixOwners.get(claimed)
    if (owner !== undefined) issues.push({ path: `${path}.prefix`, message: `is already the prefix of upstreams.${owner}` })
    else if (claimed !== undefined) prefixOwners.set(claimed, name)
    const { auth: rawAuth, ...rest } = isPlainObject(value) ? value : { auth: undefined }
    const body = section(upstreamBodySchema, isPlainObject(value) ? rest : value, path, issues)
    const auth = section(authSchema, rawAuth ?? { type: 'none' }, `${path}.auth`, issues)
    if (body === undefined) {
      // Still report what is wrong with the credentials: one `check` run shows everything.
      if (auth !== undefined) resolveAuth(auth, `${path}.auth`, DEFAULT_UPSTREAM_TIMEOUT_MS, issues, new Set())
      continue
    }
    const resolved = resolveUpstream(name, body, auth, server, issues, secrets)
    if (resolved !== undefined) upstreams.push(resolved)
  }
  return deepFreeze({
    server,
    log: { level: log.level ?? defaults.DEFAULT_LOG_LEVEL, format: log.format ?? defaults.DEFAULT_LOG_FORMAT },
    store,
    upstreams,
    ...optional('telemetry', telemetry),
    // Longest first: a secret that contains another is redacted whole.
    secrets: [...secrets].filter((value) => value.length >= 4).sort((a, b) => b.length - a.length)
  })
}

function resolveServer (raw: RawServer, issues: ConfigIssue[], secrets: Set<string>): ServerConfig {
  const host = raw.host ?? defaults.DEFAULT_HOST
  const allow = raw.allow ?? []
  allow.forEach((entry, index) => {
    if (parseCidr(entry) === undefined) issues.push({ path: `server.allow[${index}]`, message: 'must be an IP address or CIDR range, e.g. 10.0.0.0/8' })
  })
  if (!isLoopback(host) && allow.length === 0 && raw.inboundToken === undefined) {
    issues.push({ path: 'server.host', message: 'is not a loopback address: set server.allow or server.inboundToken, or tollgate would be an open, token-injecting proxy' })
  }
  if (raw.inboundToken !== undefined) secrets.add(raw.inboundToken)
  if (raw.adminPort !== undefined && raw.adminPort !== 0 && raw.adminPort === raw.port) {
    issues.push({ path: 'server.adminPort', message: 'must differ from server.port' })
  }
  const headersTimeoutMs = raw.headersTimeout ?? defaults.DEFAULT_HEADERS_TIMEOUT_MS
  // bodyTimeout counts from the request's first byte, headers included: shorter would cut headers off early.
  if (raw.bodyTimeout !== undefined && raw.bodyTimeout < headersTimeoutMs) {
    issues.push({ path: 'server.bodyTimeout', message: 'must not be shorter than server.headersTimeout (it counts from the first byte of the request)' })
  }
  return {
    host,
    port: raw.port ?? defaults.DEFAULT_PORT,
    shutdownGraceMs: raw.shutdownGrace ?? defaults.DEFAULT_SHUTDOWN_GRACE_MS,
    bodyLimit: raw.bodyLimit ?? defaults.DEFAULT_BODY_LIMIT,
    headersTimeoutMs,
    bodyTimeoutMs: raw.bodyTimeout ?? Math.max(defaults.DEFAULT_BODY_TIMEOUT_MS, headersTimeoutMs),
    allow,
    ...optional('inboundToken', raw.inboundToken),
    ...optional('adminPort', raw.adminPort)
  }
}

function resolveUpstream (name: string, raw: RawUpstream, rawAuth: RawAuth | undefined, server: ServerConfig, issues: ConfigIssue[], secrets: Set<string>): UpstreamConfig | undefined {
  const path = `upstreams.${name}`
  const before = issues.length
  // An invalid name is reported as such; its default prefix would only repeat it.
  const prefix = raw.prefix === undefined && !UPSTREAM_NAME.test(name) ? `/${name}` : resolvePrefix(raw.prefix ?? `/${name}`, `${path}.prefix`, issues)
  if (raw.target === undefined) issues.push({ path: `${path}.target`, message: 'required' })
  const timeoutMs = raw.timeout ?? defaults.DEFAULT_UPSTREAM_TIMEOUT_MS

  const headers: Record<string, string> = {}
  for (const [header, value] of Object.entries(raw.headers ?? {})) {
    const lower = header.toLowerCase()
    if (MANAGED_HEADERS.has(lower)) issues.push({ path: `${path}.headers.${header}`, message: 'tollgate manages this header; it cannot be configured' })
    if (/[\r\n\0]/.test(value)) issues.push({ path: `${path}.headers.${header}`, message: 'must not contain CR, LF or NUL' })
    if (SENSITIVE_HEADER.test(lower)) secrets.add(value)
    headers[lower] = value
  }

  const auth = rawAuth === undefined ? undefined : resolveAuth(rawAuth, `${path}.auth`, timeoutMs, issues, secrets)
  if (headers.authorization !== undefined && auth?.type !== 'none') {
    issues.push({ path: `${path}.headers.Authorization`, message: 'conflicts with auth: the credential source sets Authorization' })
  }
  const tls = resolveTls(raw.tls, `${path}.tls`, issues, secrets)
  if (issues.length > before || auth === undefined || raw.target === undefined) return undefined

  return {
    name,
    prefix,
    target: raw.target.replace(/\/+$/, ''),
    timeoutMs,
    bodyLimit: raw.bodyLimit ?? server.bodyLimit,
    rewriteLinks: raw.rewriteLinks ?? 'none',
    headers,
    auth,
    retry: {
      on429: raw.retry?.on429 ?? defaults.DEFAULT_RETRY_ON_429,
      on401: raw.retry?.on401 ?? defaults.DEFAULT_RETRY_ON_401,
      methods: new Set((raw.retry?.methods ?? defaults.DEFAULT_RETRY_METHODS).map((method) => method.toUpperCase()))
    },
    ...optional('rateLimit', resolveRateLimit(raw.rateLimit)),
    ...optional('proxy', resolveProxy(raw.proxy, secrets)),
    ...optional('tls', tls),
    ...optional('probe', raw.probe)
  }
}

/** The prefix `value` (an upstream as written) claims, or undefined when it has none that is valid (reported apart). */
function claimedPrefix (name: string, value: unknown): string | undefined {
  const prefix = isPlainObject(value) && value.prefix !== undefined ? value.prefix : UPSTREAM_NAME.test(name) ? `/${name}` : undefined
  if (typeof prefix !== 'string') return undefined
  const problems: ConfigIssue[] = []
  const trimmed = resolvePrefix(prefix, '', problems)
  return problems.length === 0 ? trimmed : undefined
}

function resolvePrefix (prefix: string, path: string, issues: ConfigIssue[]): string {
  const trimmed = prefix.length > 1 ? prefix.replace(/\/+$/, '') : prefix
  const segments = trimmed.split('/').slice(1)
  const valid = trimmed.startsWith('/') && (trimmed === '/' || segments.every((segment) => /^[A-Za-z0-9._~!$&'()+,;=@-]+$/.test(segment) && segment !== '.' && segment !== '..'))
  if (!valid) {
    issues.push({ path, message: 'must be a path of plain segments, e.g. /halaxy' })
  } else if (defaults.RESERVED_PATHS.some((reserved) => trimmed === reserved || trimmed.startsWith(`${reserved}/`))) {
    issues.push({ path, message: `takes a path reserved for tollgate's own endpoints (${defaults.RESERVED_PATHS.join(', ')})` })
  }
  return trimmed
}

function resolveAuth (raw: RawAuth, path: string, upstreamTimeoutMs: number, issues: ConfigIssue[], secrets: Set<string>): AuthConfig | undefined {
  const only = (keys: Array<keyof RawAuth>, type: string): void => {
    for (const key of keys) if (raw[key] !== undefined) issues.push({ path: `${path}.${key}`, message: `only used with type ${type}` })
  }
  const oauthKeys: Array<keyof RawAuth> = ['tokenUrl', 'clientId', 'clientSecret', 'clientAuth', 'bodyEncoding', 'scope', 'audience', 'params', 'privateKey', 'keyId', 'signingAlg', 'assertionAudience', 'maxTokenTtl', 'timeout', 'refreshBefore']
  switch (raw.type) {
    case 'none':
      only(['token'], 'static_bearer')
      only(oauthKeys, 'oauth2_client_credentials')
      return { type: 'none' }
    case 'static_bearer':
      only(oauthKeys, 'oauth2_client_credentials')
      if (raw.token === undefined || raw.token === '') {
        issues.push({ path: `${path}.token`, message: 'required' })
        return undefined
      }
      secrets.add(raw.token)
      return { type: 'static_bearer', token: raw.token }
    case 'oauth2_client_credentials':
      only(['token'], 'static_bearer')
      return resolveOAuth2(raw, path, upstreamTimeoutMs, issues, secrets)
  }
}

function resolveOAuth2 (raw: RawAuth, path: string, upstreamTimeoutMs: number, issues: ConfigIssue[], secrets: Set<string>): AuthConfig | undefined {
  const clientAuth = raw.clientAuth ?? 'client_secret_post'
  const signingAlg: SigningAlg = raw.signingAlg ?? defaults.DEFAULT_SIGNING_ALG
  if (raw.tokenUrl === undefined) issues.push({ path: `${path}.tokenUrl`, message: 'required' })
  if (raw.clientId === undefined) issues.push({ path: `${path}.clientId`, message: 'required' })
  if (clientAuth === 'private_key_jwt') {
    if (raw.clientSecret !== undefined) issues.push({ path: `${path}.clientSecret`, message: 'not used with clientAuth private_key_jwt; set privateKey' })
    if (raw.privateKey === undefined) issues.push({ path: `${path}.privateKey`, message: 'required with clientAuth private_key_jwt' })
    else checkPrivateKey(raw.privateKey, signingAlg, path, issues)
  } else {
    if (raw.clientSecret === undefined) issues.push({ path: `${path}.clientSecret`, message: 'required' })
    for (const key of ['privateKey', 'keyId', 'signingAlg', 'assertionAudience'] as const) {
      if (raw[key] !== undefined) issues.push({ path: `${path}.${key}`, message: 'only used with clientAuth private_key_jwt' })
    }
  }
  if (raw.tokenUrl === undefined || raw.clientId === undefined) return undefined
  if (raw.clientSecret !== undefined) secrets.add(raw.clientSecret)
  if (raw.privateKey !== undefined) secrets.add(raw.privateKey)
  return {
    type: 'oauth2_client_credentials',
    tokenUrl: raw.tokenUrl,
    clientId: raw.clientId,
    clientAuth,
    bodyEncoding: raw.bodyEncoding ?? 'form',
    params: raw.params ?? {},
    signingAlg,
    assertionAudience: raw.assertionAudience ?? raw.tokenUrl,
    // The token call is part of serving a request: it may not outlast the request's own timeout.
    timeoutMs: Math.min(raw.timeout ?? defaults.DEFAULT_TOKEN_TIMEOUT_MS, upstreamTimeoutMs),
    refreshBeforeMs: raw.refreshBefore ?? defaults.DEFAULT_REFRESH_BEFORE_MS,
    ...optional('clientSecret', raw.clientSecret),
    ...optional('scope', raw.scope === '' ? undefined : raw.scope),
    ...optional('audience', raw.audience),
    ...optional('privateKey', raw.privateKey),
    ...optional('keyId', raw.keyId),
    ...optional('maxTokenTtlMs', raw.maxTokenTtl)
  }
}

/**
 * What is wrong with a private_key_jwt key, in words that say how to fix it:
 * encrypted, a public key or certificate, an RSA key too short to sign.
 * The rest (not PEM, the wrong kind for signingAlg) is importSigningKey's
 * message, which the signer gives too.
 */
function checkPrivateKey (pem: string, alg: SigningAlg, path: string, issues: ConfigIssue[]): void {
  const problem = privateKeyProblem(pem, 'privateKey', 'is encrypted: tollgate needs an unencrypted PKCS#8 or PKCS#1 key (openssl pkey -in k.pem -out plain.pem)')
  if (problem !== undefined) {
    issues.push({ path: `${path}.privateKey`, message: problem.message })
    return
  }
  const bits = rsaBits(pem)
  if (bits !== undefined && bits < 2048 && /^(RS|PS)/.test(alg)) {
    // RFC 7518 §3.3 and §3.5; jose refuses to sign with a shorter key.
    issues.push({ path: `${path}.privateKey`, message: `is too short: ${alg} needs an RSA key of at least 2048 bits (this one has ${bits})` })
    return
  }
  try {
    importSigningKey(pem, alg)
  } catch (err) {
    // The message names the problem ("does not fit signing algorithm RS384"), never the key.
    issues.push({ path: `${path}.privateKey`, message: (err as Error).message.replace(/^"privateKey" (is )?/, '') })
  }
}

function resolveRateLimit (raw: RawUpstream['rateLimit']): RateLimitConfig | undefined {
  if (raw === undefined) return undefined
  return {
    requests: raw.requests,
    windowMs: raw.window,
    maxConcurrent: raw.maxConcurrent ?? Infinity,
    maxQueue: raw.maxQueue ?? defaults.DEFAULT_MAX_QUEUE,
    maxWaitMs: raw.maxWait ?? defaults.DEFAULT_MAX_WAIT_MS
  }
}

/** The proxy URL as given; its password, in every form it may take on the way out, joins the secrets. */
function resolveProxy (proxy: string | undefined, secrets: Set<string>): string | undefined {
  if (proxy === undefined) return undefined
  const url = safeUrl(proxy)
  if (url !== undefined && url.password !== '') {
    const user = decodeURIComponent(url.username)
    const password = decodeURIComponent(url.password)
    // Raw, percent-decoded, and inside the Proxy-Authorization value undici builds from them.
    secrets.add(url.password).add(password).add(Buffer.from(`${user}:${password}`).toString('base64'))
  }
  return proxy
}

/** The modulus length of an RSA (or RSA-PSS) private key, else undefined. */
function rsaBits (pem: string): number | undefined {
  const key = createPrivateKey({ key: pem, format: 'pem' })
  return key.asymmetricKeyType === 'rsa' || key.asymmetricKeyType === 'rsa-pss' ? key.asymmetricKeyDetails?.modulusLength : undefined
}

/**
 * Zod's issues → ours: a dotted path and a message that never quotes the
 * value (it may be a secret). `schema` is the one parsed: an unknown key is
 * compared with the keys valid at its place ("did you mean timeout?").
 */
function toConfigIssues (zodIssues: readonly z.core.$ZodIssue[], base: string, schema: z.core.$ZodType): ConfigIssue[] {
  return zodIssues.flatMap((issue) => {
    const path = joinPath(base, formatPath(issue.path))
    // Parsed with reportInput: `input` is there, and undefined when the key is missing.
    if (issue.input === undefined && (issue.code === 'invalid_type' || issue.code === 'invalid_union')) return [{ path, message: 'required' }]
    if (issue.input === undefined && issue.code === 'invalid_value') return [{ path, message: `required (one of ${issue.values.map(String).join(' | ')})` }]
    // Our own messages ("must be a duration ...") are kept; zod's defaults are rewritten.
    if (issue.message.startsWith('must ')) return [{ path, message: issue.message }]
    switch (issue.code) {
      case 'unrecognized_keys': {
        const known = keysAt(schema, issue.path)
        return issue.keys.map((key) => {
          const guess = closest(key, known)
          return { path: joinPath(path, key), message: guess === undefined ? 'unknown key' : `unknown key; did you mean ${guess}?` }
        })
      }
      case 'invalid_key':
        // A record key (upstream or header name) that fails its pattern: the pattern's message says what is valid.
        return [{ path, message: issue.issues[0]?.message ?? 'is not a valid name' }]
      case 'invalid_type':
        return [{ path, message: wrongType(issue.expected, issue.input) }]
      case 'invalid_value':
        return [{ path, message: `must be one of ${issue.values.map(String).join(' | ')}` }]
      case 'too_small':
        return [{ path, message: issue.origin === 'string' ? 'must not be empty' : `must be at least ${String(issue.minimum)}` }]
      case 'too_big':
        return [{ path, message: `must be at most ${String(issue.maximum)}` }]
      case 'invalid_union':
        return [{ path, message: 'has the wrong type' }]
      default:
        return [{ path, message: issue.message }]
    }
  })
}

/** The schema's internals, as far as keysAt walks them. */
interface SchemaDef {
  readonly type: string
  readonly shape?: Readonly<Record<string, z.core.$ZodType>>
  readonly innerType?: z.core.$ZodType
  readonly in?: z.core.$ZodType
  readonly valueType?: z.core.$ZodType
  readonly element?: z.core.$ZodType
}

/** The keys an object schema allows at `path` (under optional, pipes, records and arrays), or none. */
function keysAt (schema: z.core.$ZodType, path: readonly PropertyKey[]): string[] {
  let current: z.core.$ZodType | undefined = schema
  for (const segment of [...path, undefined]) {
    let def = current._zod.def as unknown as SchemaDef
    while (def.innerType !== undefined || def.in !== undefined) {
      current = def.innerType ?? def.in as z.core.$ZodType
      def = current._zod.def as unknown as SchemaDef
    }
    if (segment === undefined) return def.type === 'object' ? Object.keys(def.shape ?? {}) : []
    const next: z.core.$ZodType | undefined = def.type === 'object' && typeof segment === 'string'
      ? def.shape?.[segment]
      : def.type === 'record' ? def.valueType : def.type === 'array' ? def.element : undefined
    if (next === undefined) return []
    current = next
  }
  return []
}

function formatPath (segments: readonly PropertyKey[]): string {
  return segments.reduce<string>((path, segment) => typeof segment === 'number' ? `${path}[${segment}]` : joinPath(path, String(segment)), '')
}

function joinPath (path: string, key: string): string {
  return path === '' ? key : key === '' ? path : `${path}.${key}`
}

function article (expected: string): string {
  return expected === 'object' || expected === 'array' || expected === 'integer' ? `an ${expected}` : `a ${expected}`
}

/**
 * "must be a string", with what a newcomer needs to fix it: YAML reads `clientSecret: 0123` as a
 * number and `token: true` as a boolean (quotes keep them text). The value itself is never shown.
 */
function wrongType (expected: string, input: unknown): string {
  if (expected === 'string' && (typeof input === 'number' || typeof input === 'boolean')) return `must be a string: YAML reads this value as a ${typeof input}; put it in quotes`
  // zod's "record" is the config's map: upstream names, headers, params.
  const wanted = expected === 'record' ? 'a map (key: value)' : article(expected)
  return Array.isArray(input) && expected !== 'array' ? `must be ${wanted}, not a list` : `must be ${wanted}`
}

/**
 * When a preset could not build `target` / `auth.tokenUrl` (its presetOptions
 * are missing or wrong), "target: required" would only repeat that problem
 * in words the user never wrote: keep the presetOptions issue alone. An
 * unknown preset filled nothing at all: its issue stands alone for what a
 * preset fills (target and auth, whose type decides which keys belong).
 */
function withoutPresetEchoes (issues: ConfigIssue[]): ConfigIssue[] {
  const failedOptions = new Set(issues.filter((issue) => issue.path.includes('.presetOptions')).map((issue) => issue.path.slice(0, issue.path.indexOf('.presetOptions'))))
  const unknownPresets = new Set(issues.filter((issue) => issue.path.endsWith('.preset') && issue.message.startsWith('unknown preset')).map((issue) => issue.path.slice(0, -'.preset'.length)))
  if (failedOptions.size === 0 && unknownPresets.size === 0) return issues
  return issues.filter((issue) => {
    for (const upstream of failedOptions) {
      if (issue.message === 'required' && (issue.path === `${upstream}.target` || issue.path === `${upstream}.auth.tokenUrl`)) return false
    }
    for (const upstream of unknownPresets) {
      if (issue.path === `${upstream}.target` && issue.message === 'required') return false
      if (issue.path.startsWith(`${upstream}.auth.`) && /^(required|only used with|not used with)/.test(issue.message)) return false
    }
    return true
  })
}

function dedupe (issues: ConfigIssue[]): ConfigIssue[] {
  const seen = new Set<string>()
  return issues.filter((issue) => {
    const key = `${issue.path}\0${issue.message}`
    if (seen.has(key)) return false
    seen.add(key)
    return true
  })
}

export function parseCidr (entry: string): { address: string, prefix: number, family: 'ipv4' | 'ipv6' } | undefined {
  const [address = '', bits] = entry.split('/')
  const version = isIP(address)
  if (version === 0) return undefined
  const max = version === 4 ? 32 : 128
  const prefix = bits === undefined ? max : Number(bits)
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > max) return undefined
  return { address, prefix, family: version === 4 ? 'ipv4' : 'ipv6' }
}

export function buildBlockList (entries: readonly string[]): BlockList {
  const list = new BlockList()
  for (const entry of entries) {
    const cidr = parseCidr(entry)
    if (cidr !== undefined) list.addSubnet(cidr.address, cidr.prefix, cidr.family)
  }
  return list
}

export function isLoopback (host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host)
}

function deepFreeze<T> (value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value) && !(value instanceof Set)) {
    Object.freeze(value)
    for (const child of Object.values(value)) deepFreeze(child)
  }
  return value
}
