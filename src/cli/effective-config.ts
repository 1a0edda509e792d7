/**
 * `tollgate check --print`: the config the sidecar would run with, presets
 * and defaults applied, in the config file's own vocabulary (durations as
 * `30s`, sizes as `10mb`, upstreams as a map), so that what is printed is
 * itself a valid config. Every secret is shown as `<redacted>`.
 *
 * Secrets are found three ways, so that one missed does not leak: by the
 * field that holds them (clientSecret, privateKey, token, inboundToken,
 * encryptionKey, tls.key, passwords), by the password part of any URL
 * (proxy, Redis), and by value: any string holding one of the values the
 * validator listed in `config.secrets` (header values such as an API key,
 * a proxy's credentials in every encoding).
 */
import { stringify } from 'yaml'
import type { AuthConfig, Config } from '../config/types.js'

export const REDACTED = '<redacted>'

export type PrintFormat = 'yaml' | 'json'

/** Fields whose value is a secret wherever they appear. */
const SECRET_FIELDS = new Set(['clientSecret', 'privateKey', 'token', 'inboundToken', 'encryptionKey', 'key', 'pfx', 'password', 'sentinelPassword'])
/** Field names that say secret in passthrough objects (store.redis, auth.params): tokenUrl is no secret, but a param named api_token is. */
const SECRET_NAME = /secret|password|passphrase|credential|assertion|token|(^|[-_])key$|apikey/i
/** Header names whose values are credentials (as config/validate.ts decides). */
const SECRET_HEADER = /authorization|token|secret|key|cookie|password/i
/** `scheme://user:password@`: the password goes. */
const URL_PASSWORD = /^([a-z][a-z0-9+.-]*:\/\/[^/?#@:]*:)([^/?#@]*)@/i

export function renderConfig (config: Config, format: PrintFormat): string {
  const printable = printableConfig(config)
  return format === 'json' ? `${JSON.stringify(printable, null, 2)}\n` : stringify(printable, { lineWidth: 0 })
}

/** The config as a plain object in the file's vocabulary, secrets redacted. */
export function printableConfig (config: Config): Record<string, unknown> {
  const secrets = [...new Set(config.secrets)].filter((secret) => secret.length >= 4).sort((a, b) => b.length - a.length)
  const { secrets: _secrets, upstreams, ...sections } = config
  const file: Record<string, unknown> = {}
  for (const [name, section] of Object.entries(sections)) file[name] = toFile(section, name)
  file.upstreams = Object.fromEntries(upstreams.map(({ name, ...upstream }) => [name, toFile({ ...upstream, auth: authForFile(upstream.auth) }, 'upstream')]))
  return sweep(file, secrets) as Record<string, unknown>
}

/**
 * The resolver fills signingAlg and assertionAudience for every OAuth2
 * upstream; the file accepts them only with private_key_jwt.
 */
function authForFile (auth: AuthConfig): AuthConfig {
  if (auth.type !== 'oauth2_client_credentials' || auth.clientAuth === 'private_key_jwt') return auth
  const { signingAlg: _alg, assertionAudience: _audience, ...rest } = auth
  return rest as AuthConfig
}

/**
 * Resolved values back to what a config file says: `...Ms` durations to
 * `30s`, byte sizes to `10mb`, Sets to lists; Infinity (no limit) and
 * undefined are left out, as the file leaves them out.
 */
function toFile (value: unknown, key: string, within: Within = 'config'): unknown {
  if (value instanceof Set) return [...value as Set<unknown>]
  if (Array.isArray(value)) return value.map((item) => toFile(item, key, within))
  if (typeof value === 'string') return redact(value, key, within)
  if (typeof value !== 'object' || value === null) return value
  const inner: Within = key === 'headers' && within === 'config' ? 'headers' : PASSTHROUGH.has(key) ? 'passthrough' : within
  const out: Record<string, unknown> = {}
  for (const [field, item] of Object.entries(value)) {
    if (item === undefined || item === Number.POSITIVE_INFINITY) continue
    if (inner === 'config' && field.endsWith('Ms') && typeof item === 'number') out[field.slice(0, -2)] = formatDuration(item)
    else if (inner === 'config' && field === 'bodyLimit' && typeof item === 'number') out[field] = formatSize(item)
    else out[field] = toFile(item, field, inner)
  }
  return out
}

/** Where a value sits: tollgate's own fields, a headers map, or a map passed on as given (names chosen by the user or by ioredis). */
type Within = 'config' | 'headers' | 'passthrough'

/** Objects whose keys tollgate does not define: `store.redis` (ioredis options), `auth.params` (extra token-request fields). */
const PASSTHROUGH = new Set(['redis', 'params'])

function redact (value: string, key: string, within: Within): string {
  if (within === 'headers' ? SECRET_HEADER.test(key) : SECRET_FIELDS.has(key)) return REDACTED
  if (within === 'passthrough' && SECRET_NAME.test(key)) return REDACTED
  return value.replace(URL_PASSWORD, (_match, head: string, password: string) => password === '' ? `${head}@` : `${head}${REDACTED}@`)
}

/** Any string still holding a known secret value loses it. */
function sweep (value: unknown, secrets: readonly string[]): unknown {
  if (typeof value === 'string') {
    let text = value
    for (const secret of secrets) if (text.includes(secret)) text = text === secret ? REDACTED : text.split(secret).join(REDACTED)
    return text
  }
  if (Array.isArray(value)) return value.map((item) => sweep(item, secrets))
  if (typeof value === 'object' && value !== null) return Object.fromEntries(Object.entries(value).map(([field, item]) => [field, sweep(item, secrets)]))
  return value
}

const DURATION_UNITS = [['h', 3_600_000], ['m', 60_000], ['s', 1000]] as const

/** 900000 → "15m", 1500 → "1500ms", 0 → "0s": the largest unit that divides evenly. */
export function formatDuration (ms: number): string {
  if (ms === 0) return '0s'
  for (const [unit, size] of DURATION_UNITS) if (ms % size === 0) return `${ms / size}${unit}`
  return `${ms}ms`
}

const SIZE_UNITS = [['gb', 1024 ** 3], ['mb', 1024 ** 2], ['kb', 1024]] as const

/** 10485760 → "10mb", 1000 → 1000 (bytes stay a number). */
export function formatSize (bytes: number): string | number {
  if (bytes === 0) return 0
  for (const [unit, size] of SIZE_UNITS) if (bytes % size === 0) return `${bytes / size}${unit}`
  return bytes
}
