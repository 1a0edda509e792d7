/**
 * The shape of the config file, after interpolation and preset merging.
 * Only shape and single-field checks live here; checks that relate fields to
 * each other are in validate.ts. Every object is strict: an unknown key is
 * an error, not a silently ignored typo.
 */
import { z } from 'zod'
import { parseDuration, parseSize } from './duration.js'

const duration = z.union([z.number(), z.string()]).transform((value, ctx) => {
  const ms = parseDuration(value)
  if (ms === undefined) {
    ctx.addIssue({ code: 'custom', message: 'must be a duration: seconds, or a number with ms, s, m or h (250ms, 30s, 15m, 1h)' })
    return z.NEVER
  }
  return ms
})

const positiveDuration = duration.refine((ms) => ms > 0, { message: 'must be longer than 0' })

const size = z.union([z.number(), z.string()]).transform((value, ctx) => {
  const bytes = parseSize(value)
  if (bytes === undefined) {
    ctx.addIssue({ code: 'custom', message: 'must be a size: bytes, or a number with kb, mb or gb (512kb, 10mb)' })
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

/** An integer, also as a string of digits: interpolation (`port: ${PORT}`) always yields strings. */
const integer = z.union([z.number(), z.string().regex(/^\d+$/, { message: 'must be a whole number' }).transform(Number)]).pipe(z.number().int())
const count = (min: number) => integer.pipe(z.number().min(min))

// RFC 9110 §5.1 field-name token.
const headerName = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/

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

export const upstreamSchema = z.strictObject({
  prefix: z.string().optional(),
  target: httpUrl.optional(),
  preset: z.string().optional(),
  presetOptions: z.record(z.string(), z.unknown()).optional(),
  timeout: positiveDuration.optional(),
  bodyLimit: size.optional(),
  proxy: proxyUrl.optional(),
  tls: z.strictObject({
    ca: z.string().optional(),
    cert: z.string().optional(),
    key: z.string().optional(),
    minVersion: z.enum(['TLSv1.2', 'TLSv1.3']).optional(),
    insecureSkipVerify: boolean.optional()
  }).optional(),
  headers: z.record(z.string().regex(headerName, { message: 'must be a valid header name' }), z.union([z.string(), z.number()]).transform(String)).optional(),
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
  port: integer.pipe(z.number().min(0).max(65535)).optional(),
  adminPort: integer.pipe(z.number().min(0).max(65535)).optional(),
  shutdownGrace: duration.optional(),
  bodyLimit: size.optional(),
  headersTimeout: positiveDuration.optional(),
  bodyTimeout: positiveDuration.optional(),
  allow: z.array(z.string()).optional(),
  inboundToken: z.string().min(16, { message: 'must be at least 16 characters' }).optional()
})

export const logSchema = z.strictObject({
  level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).optional()
})

export const storeSchema = z.strictObject({
  type: z.enum(['memory', 'redis']).optional(),
  url: z.string().regex(/^rediss?:\/\//, { message: 'must be a redis:// or rediss:// URL' }).optional(),
  keyPrefix: z.string().optional(),
  encryptionKey: z.string().min(16, { message: 'must be at least 16 characters' }).optional(),
  onUnavailable: z.enum(['local', 'fail']).optional(),
  commandTimeout: positiveDuration.optional(),
  unavailableAfter: duration.optional(),
  /** ioredis options passed through as given (Sentinel, TLS details); see docs/scaling.md. */
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
  upstreams: z.record(z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, { message: 'upstream names are letters, digits, _ . -' }), z.unknown())
})

/** An upstream without its `auth`, which is parsed apart for the same reason. */
export const upstreamBodySchema = upstreamSchema.omit({ auth: true })

export type RawServer = z.output<typeof serverSchema>
export type RawLog = z.output<typeof logSchema>
export type RawStore = z.output<typeof storeSchema>
export type RawUpstream = z.output<typeof upstreamBodySchema>
export type RawAuth = z.output<typeof authSchema>
