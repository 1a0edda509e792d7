/**
 * The shape of the config file, after interpolation and preset merging.
 * Only shape and single-field checks live here; checks that relate fields to
 * each other are in validate.ts. Every object is strict: an unknown key is
 * an error, not a silently ignored typo.
 */
import { z } from 'zod'
import { parseDuration, parseSize } from './duration.js'

// zod compiles a parser for each object schema at its first parse (new Function): worth it for a schema parsed
// often, not for a config parsed once at startup and once per reload. Interpreted, startup took about 2 % fewer
// instructions (docs/benchmarks.md, *Footprint*). Global to zod, which only the config uses.
z.config({ jitless: true })

const DURATION = 'must be a duration: seconds, or a number with ms, s, m or h (250ms, 30s, 15m, 1h)'
const duration = z.union([z.number(), z.string()], { error: DURATION }).transform((value, ctx) => {
  const ms = parseDuration(value)
  if (ms === undefined) {
    ctx.addIssue({ code: 'custom', message: DURATION })
    return z.NEVER
  }
  return ms
})

const positiveDuration = duration.refine((ms) => ms > 0, { message: 'must be longer than 0' })

const SIZE = 'must be a size: bytes, or a number with kb, mb or gb (512kb, 10mb)'
const size = z.union([z.number(), z.string()], { error: SIZE }).transform((value, ctx) => {
  const bytes = parseSize(value)
  if (bytes === undefined) {
    ctx.addIssue({ code: 'custom', message: SIZE })
    return z.NEVER
  }
  return bytes
})

const httpUrl = z.string().refine((value) => {
  try {
    const url = new URL(value)
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.username === '' && url.password === '' && url.search === '' && url.hash === ''
  } catch {
    return false
  }
}, { message: 'must be an absolute http(s) URL without credentials, query or fragment' })

/** An HTTP proxy: scheme, host and port, and optionally `user:password@` (the password is a secret, see validate.ts). */
const proxyUrl = z.string().refine((value) => {
  try {
    const url = new URL(value)
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.pathname === '/' && url.search === '' && url.hash === ''
  } catch {
    return false
  }
}, { message: 'must be an http(s) proxy URL: scheme, host, port and optionally user:password@, nothing else' })

/** A boolean, also as the strings `true` / `false`: interpolation (`${INSECURE:-false}`) always yields strings. */
const boolean = z.union([z.boolean(), z.enum(['true', 'false']).transform((value) => value === 'true')])

/**
 * An integer, also as a string of digits: interpolation (`port: ${PORT}`) always yields strings.
 * Every failure says what is expected, in `message` (validate.ts names the variable behind a bad value).
 */
const integer = (message: string) => z.union([z.number(), z.string().regex(/^\d+$/).transform(Number)], { error: message }).pipe(z.number().int({ error: message }))
const count = (min: number) => integer('must be a whole number').pipe(z.number().min(min))
const PORT = 'must be a port number 0-65535'
const port = integer(PORT).pipe(z.number().min(0, { error: PORT }).max(65535, { error: PORT }))

// RFC 9110 §5.1 field-name token.
const headerName = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/
const HEADER_NAME = 'is not a valid header name: letters, digits and !#$%&\'*+-.^_`|~ only (no spaces or colons)'

/** Upstream names appear in logs, metrics and the default prefix `/<name>`. */
export const UPSTREAM_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/

export const authSchema = z.strictObject({
  type: z.enum(['none', 'static_bearer', 'oauth2_client_credentials']),
  token: z.string().optional(),
  tokenUrl: httpUrl.optional(),
  clientId: z.string().min(1).optional(),
  clientSecret: z.string().min(1).optional(),
  clientAuth: z.enum(['client_secret_post', 'client_secret_basic', 'private_key_jwt']).optional(),
  bodyEncoding: z.enum(['form', 'json']).optional(),
  scope: z.string().optional(),
  audience: z.string().min(1).optional(),
  params: z.record(z.string(), z.string()).optional(),
  privateKey: z.string().optional(),
  keyId: z.string().min(1).optional(),
  signingAlg: z.enum(['RS256', 'RS384', 'RS512', 'PS256', 'ES256', 'ES384']).optional(),
  assertionAudience: z.string().min(1).optional(),
  maxTokenTtl: positiveDuration.optional(),
  timeout: positiveDuration.optional(),
  refreshBefore: duration.optional()
})

/** A TLS block: extra trusted CAs, a client certificate and key (mTLS), the lowest version (PEMs are checked in tls.ts). */
const tlsSchema = z.strictObject({
  ca: z.string().optional(),
  cert: z.string().optional(),
  key: z.string().optional(),
  minVersion: z.enum(['TLSv1.2', 'TLSv1.3']).optional()
})

export const upstreamSchema = z.strictObject({
  prefix: z.string().optional(),
  target: httpUrl.optional(),
  preset: z.string().optional(),
  presetOptions: z.record(z.string(), z.unknown()).optional(),
  timeout: positiveDuration.optional(),
  bodyLimit: size.optional(),
  proxy: proxyUrl.optional(),
  /** FHIR JSON bodies: the target's base becomes the app's in locator fields, and back (src/proxy/fhir-links.ts). */
  rewriteLinks: z.enum(['fhir', 'none']).optional(),
  /** `tollgate doctor`'s one upstream request: a path and query relative to target. */
  probe: z.string().regex(/^\/(?!\/)[^#\s]*$/, { message: 'must be a path and query relative to target, e.g. /Patient?_count=1' }).optional(),
  tls: tlsSchema.extend({ insecureSkipVerify: boolean.optional() }).optional(),
  headers: z.record(z.string().regex(headerName, { message: HEADER_NAME }), z.union([z.string(), z.number()]).transform(String)).optional(),
  auth: authSchema.optional(),
  rateLimit: z.strictObject({
    requests: count(1),
    window: positiveDuration,
    maxConcurrent: count(1).optional(),
    maxQueue: count(0).optional(),
    maxWait: duration.optional()
  }).optional(),
  retry: z.strictObject({
    on429: count(0).optional(),
    on401: count(0).optional(),
    methods: z.array(z.string().regex(/^[A-Za-z]+$/, { message: 'must be an HTTP method' })).optional()
  }).optional()
})

export const serverSchema = z.strictObject({
  host: z.string().min(1).optional(),
  port: port.optional(),
  adminPort: port.optional(),
  shutdownGrace: duration.optional(),
  bodyLimit: size.optional(),
  headersTimeout: positiveDuration.optional(),
  bodyTimeout: positiveDuration.optional(),
  allow: z.array(z.string()).optional(),
  inboundToken: z.string().min(16, { message: 'must be at least 16 characters' }).optional()
})

export const logSchema = z.strictObject({
  level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).optional(),
  format: z.enum(['json', 'pretty']).optional()
})

/** `host:port` of a Redis Sentinel; an IPv6 host in brackets. */
const HOST_PORT = 'must be host:port, e.g. sentinel-0.redis:26379 ([::1]:26379 for IPv6)'
const hostPort = z.string().refine((value) => {
  try {
    const url = new URL(`redis://${value}`)
    return url.port !== '' && `${url.host}` === value.toLowerCase()
  } catch {
    return false
  }
}, { message: HOST_PORT })

export const storeSchema = z.strictObject({
  type: z.enum(['memory', 'redis']).optional(),
  url: z.string().regex(/^rediss?:\/\//, { message: 'must be a redis:// or rediss:// URL' }).optional(),
  /** Redis Sentinel: the sentinels to ask, and the name of the primary they monitor (validate: exactly one of url, sentinels, cluster). */
  sentinels: z.array(hostPort).min(1).optional(),
  name: z.string().min(1).optional(),
  sentinelUsername: z.string().min(1).optional(),
  sentinelPassword: z.string().min(1).optional(),
  /** Redis Cluster: startup nodes, `redis://host:port` or `rediss://host:port` (store.ts checks each). */
  cluster: z.array(z.string()).min(1).optional(),
  /** Raw values, never URL-encoded: an ACL user and its password (or the `requirepass` password alone). */
  username: z.string().min(1).optional(),
  password: z.string().min(1).optional(),
  tls: tlsSchema.optional(),
  keyPrefix: z.string().optional(),
  encryptionKey: z.string().min(16, { message: 'must be at least 16 characters' }).optional(),
  onUnavailable: z.enum(['local', 'fail']).optional(),
  commandTimeout: positiveDuration.optional(),
  unavailableAfter: duration.optional(),
  /** Replicas to divide N by while Redis is lost, for a replica that never saw the replica set (store/fallback-share.ts). */
  fallbackReplicas: count(1).optional(),
  /** ioredis options passed through as given (what tollgate has no key for); see docs/scaling.md. */
  redis: z.record(z.string(), z.unknown()).optional()
})

/**
 * The top level only: each section is parsed on its own (validate.ts), so a
 * typo in one place does not hide a missing secret in another.
 */
export const topSchema = z.strictObject({
  server: z.unknown().optional(),
  log: z.unknown().optional(),
  store: z.unknown().optional(),
  telemetry: z.unknown().optional(),
  upstreams: z.record(z.string().regex(UPSTREAM_NAME, { message: 'is not a valid upstream name: letters, digits, _ . and -, starting with a letter or digit' }), z.unknown())
})

/** An upstream without its `auth`, which is parsed apart for the same reason. */
export const upstreamBodySchema = upstreamSchema.omit({ auth: true })

export type RawServer = z.output<typeof serverSchema>
export type RawLog = z.output<typeof logSchema>
export type RawStore = z.output<typeof storeSchema>
export type RawUpstream = z.output<typeof upstreamBodySchema>
export type RawAuth = z.output<typeof authSchema>
