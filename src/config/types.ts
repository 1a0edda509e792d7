/**
 * The resolved configuration: fully defaulted, durations in milliseconds,
 * sizes in bytes. Built once by `config/validate.ts`; everything downstream
 * only reads it (habit H1: resolve once, serve many).
 */

export type ClientAuthMethod = 'client_secret_post' | 'client_secret_basic' | 'private_key_jwt'
export type BodyEncoding = 'form' | 'json'
export type SigningAlg = 'RS256' | 'RS384' | 'RS512' | 'PS256' | 'ES256' | 'ES384'

export interface NoAuth {
  readonly type: 'none'
}

export interface StaticBearerAuth {
  readonly type: 'static_bearer'
  readonly token: string
}

export interface OAuth2ClientCredentialsAuth {
  readonly type: 'oauth2_client_credentials'
  readonly tokenUrl: string
  readonly clientId: string
  /** Absent with private_key_jwt. */
  readonly clientSecret?: string
  readonly clientAuth: ClientAuthMethod
  readonly bodyEncoding: BodyEncoding
  readonly scope?: string
  readonly audience?: string
  /** Extra token-request fields, sent as given. */
  readonly params: Readonly<Record<string, string>>
  /** private_key_jwt: PEM, PKCS#8 or PKCS#1. */
  readonly privateKey?: string
  readonly keyId?: string
  readonly signingAlg: SigningAlg
  /** private_key_jwt: the assertion's `aud`; defaults to tokenUrl. */
  readonly assertionAudience: string
  /** Clamp on the lifetime the token server claims. */
  readonly maxTokenTtlMs?: number
  /** Token request timeout. */
  readonly timeoutMs: number
  /** Refresh this long before expiry (the cache caps it at half the lifetime). */
  readonly refreshBeforeMs: number
}

export type AuthConfig = NoAuth | StaticBearerAuth | OAuth2ClientCredentialsAuth

export interface RateLimitConfig {
  /** At most this many request starts ... */
  readonly requests: number
  /** ... in any interval of this length (sliding). */
  readonly windowMs: number
  /** Concurrent upstream requests; Infinity when not configured. */
  readonly maxConcurrent: number
  /** Waiting requests beyond this get 503. */
  readonly maxQueue: number
  /** A request queued longer than this gets 503. */
  readonly maxWaitMs: number
}

export interface RetryConfig {
  readonly on429: number
  readonly on401: number
  readonly methods: ReadonlySet<string>
}

/** For the upstream and its token endpoint. Every PEM has been parsed once by the validator. */
export interface TlsConfig {
  /** Extra trusted CAs (PEM, one or more), trusted in addition to Node's root store. */
  readonly ca?: string
  /** Client certificate (PEM, leaf first) for mTLS; always with `key`. */
  readonly cert?: string
  readonly key?: string
  readonly minVersion?: 'TLSv1.2' | 'TLSv1.3'
  /** Present (and true) only when the config turns certificate verification off; warned at every start. */
  readonly insecureSkipVerify?: true
}

export interface UpstreamConfig {
  readonly name: string
  /** Normalised: leading slash, no trailing slash ("/" only for the root). */
  readonly prefix: string
  /** Absolute http(s) URL; its path is the base every request is resolved under. */
  readonly target: string
  readonly timeoutMs: number
  readonly bodyLimit: number
  /**
   * `fhir`: FHIR JSON answers get the app's base in their locator fields
   * (Bundle links, fullUrl, response.location, reference) and request bodies
   * the target's; `none` (the default): bodies pass byte for byte.
   */
  readonly rewriteLinks: 'fhir' | 'none'
  /** Header names lower-cased; these overwrite the app's. */
  readonly headers: Readonly<Record<string, string>>
  readonly auth: AuthConfig
  /** Absent: no throttling for this upstream. */
  readonly rateLimit?: RateLimitConfig
  readonly retry: RetryConfig
  /** HTTP proxy for the upstream and its token endpoint, overriding HTTPS_PROXY / HTTP_PROXY / NO_PROXY; may carry user:password@. */
  readonly proxy?: string
  readonly tls?: TlsConfig
  /** `tollgate doctor` sends one GET here (a path and query relative to target) when set. */
  readonly probe?: string
}

export interface ServerConfig {
  readonly host: string
  readonly port: number
  readonly shutdownGraceMs: number
  readonly bodyLimit: number
  readonly headersTimeoutMs: number
  /** The whole request (headers and body) must arrive within this, counted from its first byte; at least headersTimeoutMs. */
  readonly bodyTimeoutMs: number
  readonly allow: readonly string[]
  readonly inboundToken?: string
  readonly adminPort?: number
}

/** TLS to Redis (store.tls): as an upstream's, without insecureSkipVerify. */
export type StoreTlsConfig = Omit<TlsConfig, 'insecureSkipVerify'>

export interface StoreConfig {
  readonly type: 'memory' | 'redis'
  /** With type redis, exactly one of url, sentinels and cluster is set. */
  readonly url?: string
  /** Redis Sentinel: `host:port` of each sentinel, and the primary's `name`. */
  readonly sentinels?: readonly string[]
  readonly name?: string
  readonly sentinelUsername?: string
  readonly sentinelPassword?: string
  /** Redis Cluster: startup nodes, `redis://host:port` or `rediss://host:port`, one scheme for all. */
  readonly cluster?: readonly string[]
  /** ACL user and password, as given (never URL-encoded); for the primary or every cluster node. */
  readonly username?: string
  readonly password?: string
  /** Present: TLS with these settings (rediss:// URLs, the sentinels and the primaries they name, every cluster node). */
  readonly tls?: StoreTlsConfig
  readonly keyPrefix: string
  readonly encryptionKey?: string
  readonly onUnavailable: 'local' | 'fail'
  /** One command's bound: a command unanswered this long has failed (for its request alone). */
  readonly commandTimeoutMs: number
  /** Commands failing this long without a success (or the connection dropping) is a lost store. */
  readonly unavailableAfterMs: number
  /** While Redis is lost: divide N by this many replicas when this one never saw the replica set (else it starts nothing rate-limited). */
  readonly fallbackReplicas?: number
  /** ioredis options, passed through (what tollgate has no key for); tollgate's own defaults are in store/redis-client.ts. */
  readonly redis?: Readonly<Record<string, unknown>>
}

export type TraceProtocol = 'http/protobuf' | 'http/json'
export type TraceSampler = 'always_on' | 'always_off' | 'traceidratio' | 'parentbased_always_on' | 'parentbased_always_off' | 'parentbased_traceidratio'

/** OpenTelemetry tracing (config/telemetry.ts): the file's `telemetry` with the OTEL_* variables applied. */
export interface TelemetryConfig {
  /** OTLP/HTTP base URL: spans go to `<endpoint>/v1/traces`. Neither this nor tracesEndpoint: tracing is off. */
  readonly endpoint?: string
  /** The traces URL exactly; wins over endpoint. */
  readonly tracesEndpoint?: string
  readonly protocol: TraceProtocol
  /** Sent with every export; every value is a secret. Names lower-cased. */
  readonly headers: Readonly<Record<string, string>>
  readonly serviceName: string
  readonly resourceAttributes: Readonly<Record<string, string>>
  readonly sampler: TraceSampler
  /** The ratio of the traceidratio samplers (default 1). */
  readonly samplerArg?: number
}

export interface Config {
  readonly server: ServerConfig
  /** `format`: JSON lines (the default), or pretty (pino-pretty, for a person at a terminal). */
  readonly log: { readonly level: string, readonly format: 'json' | 'pretty' }
  readonly store: StoreConfig
  readonly upstreams: readonly UpstreamConfig[]
  /** Present when the file has a `telemetry` section or an OTEL_* variable configures tracing. */
  readonly telemetry?: TelemetryConfig
  /**
   * Every secret value the config holds (client secrets, private keys,
   * static tokens, inbound token, store key, proxy passwords, mTLS keys),
   * for the logger's censor.
   */
  readonly secrets: readonly string[]
}
