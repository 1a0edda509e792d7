/**
 * What `buildSandbox` accepts, and the vendor-documented defaults it fills
 * in. Options are checked once here; a bad one is programmer misuse and
 * throws a TypeError naming it (style §4.4).
 */
import { generateKeyPairSync } from 'node:crypto'
import type { FastifyServerOptions } from 'fastify'
import type { JWK, JSONWebKeySet } from 'jose'
import { PRESET_NAMES, type PresetName } from '../config/presets.js'

/** A vendor whose clients authenticate with a client secret. */
export type SecretVendor = Exclude<PresetName, 'redox'>

export interface SandboxSecretClient {
  readonly clientId: string
  readonly clientSecret: string
}

/** A Redox client: its public key(s), looked up by the assertion's `kid`. */
export interface SandboxKeyClient {
  readonly clientId: string
  /** Public key only: one JWK, or a JWKS such as `tollgate keygen` prints. */
  readonly publicKey: JWK | JSONWebKeySet
  /** The `kid` of a single JWK that carries none. */
  readonly kid?: string
}

export interface SandboxLifetimeOptions {
  /** How long issued tokens really stay valid, in seconds. */
  readonly tokenTtlSeconds?: number
  /**
   * What the token answer's `expires_in` claims; defaults to the real
   * lifetime. Set Halaxy's to 3600 to reproduce its page, whose example says
   * 3600 while its note says tokens last 15 minutes.
   */
  readonly expiresInSeconds?: number
}

export interface SandboxSecretVendorOptions extends SandboxLifetimeOptions {
  readonly clients?: readonly SandboxSecretClient[]
}

export interface SandboxHalaxyOptions extends SandboxSecretVendorOptions {
  /** Sliding window on OAuth-authenticated requests, per client. */
  readonly rateLimit?: { readonly requests: number, readonly windowMs: number }
}

export interface SandboxRedoxOptions extends SandboxLifetimeOptions {
  readonly clients?: readonly SandboxKeyClient[]
}

export interface SandboxVendorOptions {
  readonly halaxy?: SandboxHalaxyOptions
  readonly 'halaxy-eu'?: SandboxHalaxyOptions
  readonly healthhero?: SandboxSecretVendorOptions
  readonly redox?: SandboxRedoxOptions
  readonly photon?: SandboxSecretVendorOptions
  readonly 'photon-sandbox'?: SandboxSecretVendorOptions
  readonly nikohealth?: SandboxSecretVendorOptions
}

export interface SandboxOptions {
  /** Per-vendor clients, lifetimes and limits; anything left out gets the default. */
  readonly vendors?: SandboxVendorOptions
  /** Epoch milliseconds; inject a fake clock in tests instead of sleeping. */
  readonly now?: () => number
  /** Issued tokens kept at most; beyond this the oldest are forgotten. */
  readonly maxTokens?: number
  /** Fastify's logger option; off by default. */
  readonly logger?: NonNullable<FastifyServerOptions['logger']>
}

/**
 * Token lifetimes in seconds, from each vendor's page:
 * - Halaxy's page: "Access tokens are valid for 15 minutes" (its example answer says 3600);
 * - healthhero: the project copy shows no answer body; 3600 is its example's value (peers-and-pitfalls §8);
 * - redox: "the access token we provide to you expires after 5 minutes" (peers-and-pitfalls §8);
 * - Photon's page: `"expires_in":86400`;
 * - NikoHealth's page: `"expires_in": 1200`.
 */
export const DEFAULT_TOKEN_TTL_SECONDS: Readonly<Record<PresetName, number>> = {
  halaxy: 900,
  'halaxy-eu': 900,
  healthhero: 3600,
  redox: 300,
  photon: 86400,
  'photon-sandbox': 86400,
  nikohealth: 1200
}

/** Halaxy's page: "rate-limited to 500 requests per minute ... a sliding window rate limiter". */
export const DEFAULT_HALAXY_RATE_LIMIT = { requests: 500, windowMs: 60_000 } as const

/** Enough for any test run; bounds memory when a client never reuses its tokens. */
export const DEFAULT_MAX_TOKENS = 10_000

/** The `kid` of the key pair generated for Redox when no client is configured. */
export const DEFAULT_REDOX_KEY_ID = 'tollgate-sandbox-redox'

/** Credentials that work against a sandbox built without `clients`, for demos and docs. */
export function defaultSecretClient (vendor: SecretVendor): SandboxSecretClient {
  return { clientId: `${vendor}-client`, clientSecret: `${vendor}-secret` }
}

/** A Redox client with its private key, for the demo: only the sandbox that generated it knows it. */
export interface SandboxRedoxCredential {
  readonly clientId: string
  /** PKCS#8 PEM, for `auth.privateKey`. */
  readonly privateKey: string
  readonly keyId: string
  readonly signingAlg: 'RS384'
}

export interface ResolvedVendor {
  readonly tokenTtlSeconds: number
  readonly expiresInSeconds: number
}

export interface ResolvedSecretVendor extends ResolvedVendor {
  /** client id → secret */
  readonly clients: ReadonlyMap<string, string>
}

export interface ResolvedHalaxy extends ResolvedSecretVendor {
  readonly rateLimit: { readonly requests: number, readonly windowMs: number }
}

export interface ResolvedRedox extends ResolvedVendor {
  /** client id → its public keys, every one with a `kid` */
  readonly clients: ReadonlyMap<string, JSONWebKeySet>
}

export interface ResolvedSandboxOptions {
  readonly vendors: {
    readonly halaxy: ResolvedHalaxy
    readonly 'halaxy-eu': ResolvedHalaxy
    readonly healthhero: ResolvedSecretVendor
    readonly redox: ResolvedRedox
    readonly photon: ResolvedSecretVendor
    readonly 'photon-sandbox': ResolvedSecretVendor
    readonly nikohealth: ResolvedSecretVendor
  }
  readonly now: () => number
  readonly maxTokens: number
  readonly logger: NonNullable<FastifyServerOptions['logger']>
  /** One working client per vendor (the first configured, or the default one). */
  readonly credentials: SandboxCredentials
}

export type SandboxCredentials = { readonly [V in SecretVendor]: SandboxSecretClient } & {
  /** Absent when Redox clients were configured: the sandbox never sees their private keys. */
  readonly redox?: SandboxRedoxCredential
}

export function resolveSandboxOptions (options: SandboxOptions = {}): ResolvedSandboxOptions {
  const vendors = options.vendors ?? {}
  for (const key of Object.keys(vendors)) {
    if (!(PRESET_NAMES as readonly string[]).includes(key)) throw new TypeError(`"vendors.${key}" is not a sandbox vendor (${PRESET_NAMES.join(', ')})`)
  }
  const redox = resolveRedox(vendors.redox)
  const credentials = {
    halaxy: firstClient('halaxy', vendors.halaxy),
    'halaxy-eu': firstClient('halaxy-eu', vendors['halaxy-eu']),
    healthhero: firstClient('healthhero', vendors.healthhero),
    photon: firstClient('photon', vendors.photon),
    'photon-sandbox': firstClient('photon-sandbox', vendors['photon-sandbox']),
    nikohealth: firstClient('nikohealth', vendors.nikohealth),
    ...(redox.credential === undefined ? {} : { redox: redox.credential })
  }
  const maxTokens = options.maxTokens ?? DEFAULT_MAX_TOKENS
  if (!Number.isInteger(maxTokens) || maxTokens < 1) throw new TypeError('"maxTokens" must be a positive integer')
  return {
    vendors: {
      halaxy: resolveHalaxy('halaxy', vendors.halaxy),
      'halaxy-eu': resolveHalaxy('halaxy-eu', vendors['halaxy-eu']),
      healthhero: resolveSecretVendor('healthhero', vendors.healthhero),
      redox: redox.resolved,
      photon: resolveSecretVendor('photon', vendors.photon),
      'photon-sandbox': resolveSecretVendor('photon-sandbox', vendors['photon-sandbox']),
      nikohealth: resolveSecretVendor('nikohealth', vendors.nikohealth)
    },
    now: options.now ?? Date.now,
    maxTokens,
    logger: options.logger ?? false,
    credentials
  }
}

function resolveLifetime (vendor: PresetName, options: SandboxLifetimeOptions | undefined): ResolvedVendor {
  const tokenTtlSeconds = options?.tokenTtlSeconds ?? DEFAULT_TOKEN_TTL_SECONDS[vendor]
  const expiresInSeconds = options?.expiresInSeconds ?? tokenTtlSeconds
  positive(`vendors.${vendor}.tokenTtlSeconds`, tokenTtlSeconds)
  positive(`vendors.${vendor}.expiresInSeconds`, expiresInSeconds)
  return { tokenTtlSeconds, expiresInSeconds }
}

function resolveSecretVendor (vendor: SecretVendor, options: SandboxSecretVendorOptions | undefined): ResolvedSecretVendor {
  const list = options?.clients ?? [defaultSecretClient(vendor)]
  if (list.length === 0) throw new TypeError(`"vendors.${vendor}.clients" must not be empty`)
  const clients = new Map<string, string>()
  for (const [i, client] of list.entries()) {
    if (typeof client.clientId !== 'string' || client.clientId === '') throw new TypeError(`"vendors.${vendor}.clients[${i}].clientId" must be a non-empty string`)
    if (typeof client.clientSecret !== 'string' || client.clientSecret === '') throw new TypeError(`"vendors.${vendor}.clients[${i}].clientSecret" must be a non-empty string`)
    clients.set(client.clientId, client.clientSecret)
  }
  return { ...resolveLifetime(vendor, options), clients }
}

function resolveHalaxy (vendor: 'halaxy' | 'halaxy-eu', options: SandboxHalaxyOptions | undefined): ResolvedHalaxy {
  const rateLimit = options?.rateLimit ?? DEFAULT_HALAXY_RATE_LIMIT
  // Bounded so the per-client ring of start times stays small.
  if (!Number.isInteger(rateLimit.requests) || rateLimit.requests < 1 || rateLimit.requests > 1_000_000) {
    throw new TypeError(`"vendors.${vendor}.rateLimit.requests" must be an integer from 1 to 1000000`)
  }
  positive(`vendors.${vendor}.rateLimit.windowMs`, rateLimit.windowMs)
  return { ...resolveSecretVendor(vendor, options), rateLimit: { requests: rateLimit.requests, windowMs: rateLimit.windowMs } }
}

function firstClient (vendor: SecretVendor, options: SandboxSecretVendorOptions | undefined): SandboxSecretClient {
  const first = options?.clients?.[0] ?? defaultSecretClient(vendor)
  return { clientId: first.clientId, clientSecret: first.clientSecret }
}

// JWK members that only a private (or symmetric) key has (RFC 7518 §6.2.2, §6.3.2, §6.4.1).
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'] as const

function resolveRedox (options: SandboxRedoxOptions | undefined): { resolved: ResolvedRedox, credential?: SandboxRedoxCredential } {
  const lifetime = resolveLifetime('redox', options)
  if (options?.clients === undefined) {
    const { jwk, privateKey } = defaultRedoxKeyPair()
    const clientId = 'redox-client'
    return {
      resolved: { ...lifetime, clients: new Map([[clientId, { keys: [jwk] }]]) },
      credential: { clientId, privateKey, keyId: DEFAULT_REDOX_KEY_ID, signingAlg: 'RS384' }
    }
  }
  if (options.clients.length === 0) throw new TypeError('"vendors.redox.clients" must not be empty')
  const clients = new Map<string, JSONWebKeySet>()
  for (const [i, client] of options.clients.entries()) {
    const where = `vendors.redox.clients[${i}]`
    if (typeof client.clientId !== 'string' || client.clientId === '') throw new TypeError(`"${where}.clientId" must be a non-empty string`)
    const keys = 'keys' in client.publicKey && Array.isArray(client.publicKey.keys)
      ? client.publicKey.keys
      : [{ ...client.publicKey as JWK, ...(client.kid === undefined ? {} : { kid: client.kid }) }]
    if (keys.length === 0) throw new TypeError(`"${where}.publicKey" has no keys`)
    for (const [k, key] of keys.entries()) {
      if (key.kty !== 'RSA' && key.kty !== 'EC') throw new TypeError(`"${where}.publicKey" key ${k} must be an RSA or EC key`)
      if (typeof key.kid !== 'string' || key.kid === '') throw new TypeError(`"${where}.publicKey" key ${k} needs a kid (Redox picks the key by kid)`)
      if (PRIVATE_MEMBERS.some((member) => member in key)) throw new TypeError(`"${where}.publicKey" key ${k} holds private key material: pass the public key only`)
    }
    clients.set(client.clientId, { keys })
  }
  return { resolved: { ...lifetime, clients } }
}

let defaultKeyPair: { jwk: JWK, privateKey: string } | undefined

/**
 * With no Redox client configured, the sandbox makes one so that the demo
 * works out of the box. The key pair is generated, never shipped (a fixed
 * private key in the source would be a leaked key), and generated once per
 * process: RSA generation blocks for a few hundred milliseconds, and every
 * sandbox a test suite builds would pay it again.
 */
function defaultRedoxKeyPair (): { jwk: JWK, privateKey: string } {
  if (defaultKeyPair === undefined) {
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
    defaultKeyPair = {
      jwk: { ...publicKey.export({ format: 'jwk' }), kid: DEFAULT_REDOX_KEY_ID, alg: 'RS384', use: 'sig' } as JWK,
      privateKey: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString()
    }
  }
  return defaultKeyPair
}

function positive (name: string, value: number): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) throw new TypeError(`"${name}" must be a positive number`)
}
