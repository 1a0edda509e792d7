/**
 * Egress: how tollgate reaches one upstream and its token endpoint.
 *
 * - Each upstream gets its own undici pool, so one slow vendor cannot hold
 *   connections another needs (no cross-vendor head-of-line blocking), and
 *   no pipelining (fastify-http-proxy#104). Behind a proxy the pool lives
 *   inside undici's ProxyAgent, still one per upstream origin.
 * - Proxy: the upstream's `proxy` key, else HTTPS_PROXY / HTTP_PROXY /
 *   NO_PROXY (and their lower-case forms), read once here at startup. NO_PROXY
 *   is matched by undici's EnvHttpProxyAgent. A loopback target never goes
 *   through an environment proxy: the proxy's loopback is not ours, and the
 *   request carries a bearer token (Go's net/http makes the same exception).
 * - TLS: `tls.ca` is trusted in addition to Node's default trust (bundled
 *   roots and NODE_EXTRA_CA_CERTS), `cert`/`key` for mTLS, `minVersion`; all
 *   in one SecureContext built once, shared by the upstream and its token
 *   endpoint, direct or through a tunnel.
 * - Proxy credentials never reach undici inside a URL (which it keeps and
 *   could print): they are turned into the Proxy-Authorization value here.
 */
import { BlockList, isIP, type LookupFunction } from 'node:net'
import type { SecureContext } from 'node:tls'
import { Agent, Dispatcher, EnvHttpProxyAgent, Pool, ProxyAgent } from 'undici'
import type { UpstreamConfig } from '../config/types.js'
import { createTlsContext } from '../tls-context.js'
import { Attempt, DeadlineList, kDispatchWatcher, type DispatchWatcher } from './deadline.js'

/** Keep-alive connections per upstream; beyond this, requests wait inside undici. */
export const MAX_CONNECTIONS_PER_UPSTREAM = 128

/** Longest a TCP + TLS connect may take, whatever the upstream's `timeout`. */
export const MAX_CONNECT_TIMEOUT_MS = 10_000

export interface EgressDeps {
  /** Where HTTPS_PROXY, HTTP_PROXY, NO_PROXY and NODE_EXTRA_CA_CERTS are read (once, now); process.env by default. */
  readonly env?: NodeJS.ProcessEnv
  /** Bound to the upstream (server.ts passes `logger.child({ upstream })`). */
  readonly log?: {
    info (obj: object, msg: string): void
    warn (obj: object, msg: string): void
  }
  /** Name resolution for direct connections; node:dns lookup by default (`tollgate doctor`'s tests inject a fake). */
  readonly lookup?: LookupFunction
}

export interface UpstreamDispatchers {
  /**
   * For API requests: the upstream's pool with the headers deadline and the
   * dispatch watcher (deadline.ts). Closing or destroying it does the same
   * to `token`.
   */
  readonly api: Dispatcher
  /** For token requests (its own connections, closed with `api`); undefined when the upstream fetches no token. */
  readonly token: Dispatcher | undefined
}

/** What undici's connector passes on to tls.connect (and `timeout`, which it keeps). */
export interface ConnectOptions {
  readonly timeout: number
  readonly secureContext?: SecureContext
  readonly rejectUnauthorized?: false
  readonly lookup?: LookupFunction
}

/** Where requests to one origin go: straight there, or through this proxy. */
export interface ProxyRoute {
  /** Scheme, host and port only: never credentials. */
  readonly uri: string
  /** `Basic …` from the URL's user:password, for Proxy-Authorization. */
  readonly token: string | undefined
  /** The config key or the variable it came from, for the startup log and error messages. */
  readonly source: string
  /** Set for an environment proxy: NO_PROXY, for undici to match each request against. */
  readonly noProxy: string | undefined
}

/**
 * The dispatchers for one upstream, built once at startup.
 *
 * @throws TypeError when the proxy variable that applies is not an http(s) URL
 *   (the config's own `proxy` key was checked by the validator).
 * @see https://undici.nodejs.org/#/docs/api/EnvHttpProxyAgent (NO_PROXY rules)
 */
export function createUpstreamDispatchers (upstream: UpstreamConfig, deps: EgressDeps = {}): UpstreamDispatchers {
  const env = deps.env ?? process.env
  const connect = connectOptions(upstream, env, deps.lookup)
  if (upstream.tls?.insecureSkipVerify === true) {
    deps.log?.warn({ tls: 'insecureSkipVerify' }, 'TLS certificate verification is OFF for this upstream and its token endpoint: anyone on the path can read its traffic and tokens')
  }

  const target = new URL(upstream.target)
  const apiRoute = chooseRoute(target, upstream.proxy, env)
  if (apiRoute !== undefined) deps.log?.info(describe(apiRoute, 'api'), 'egress through a proxy')
  const pool = {
    connections: Math.min(upstream.rateLimit?.maxConcurrent ?? Infinity, MAX_CONNECTIONS_PER_UPSTREAM),
    pipelining: 1,
    keepAliveTimeout: 4_000
  }
  const apiRoot = apiRoute === undefined
    ? new Pool(target.origin, { ...pool, connect })
    : viaProxy(target, apiRoute, connect, pool)

  let token: Dispatcher | undefined
  if (upstream.auth.type === 'oauth2_client_credentials') {
    // The token endpoint may live on another origin: the same proxy rules and TLS settings, its own connections.
    const tokenUrl = new URL(upstream.auth.tokenUrl)
    const tokenRoute = chooseRoute(tokenUrl, upstream.proxy, env)
    if (tokenRoute !== undefined) {
      deps.log?.info(describe(tokenRoute, 'token'), 'egress through a proxy')
      token = viaProxy(tokenUrl, tokenRoute, connect, {})
    } else {
      // Never undici's global dispatcher: the process may share it with Node's own fetch, a
      // different undici on each Node line (Node 22's kept an idle socket to a hung token
      // endpoint open after the fetch timed out), and tollgate could not close it at shutdown.
      token = new Agent({ connect })
    }
  }
  return { api: new UpstreamDispatcher(apiRoot, token, new DeadlineList(upstream.timeoutMs)), token }
}

type RequestCallback<T> = (err: Error | null, data: Dispatcher.ResponseData<T>) => void

/**
 * The upstream's pool as one Dispatcher that also owns the upstream's token
 * dispatcher, which the server never sees on its own: closing or destroying
 * it closes both. A request() that carries a dispatch watcher (the proxy's
 * exchange) gets an Attempt as its signal, under the upstream's headers
 * deadline, and the watcher is shown the answer's head (deadline.ts).
 */
class UpstreamDispatcher extends Dispatcher {
  readonly #root: Dispatcher
  readonly #owned: Dispatcher | undefined
  readonly #deadlines: DeadlineList

  constructor (root: Dispatcher, owned: Dispatcher | undefined, deadlines: DeadlineList) {
    super()
    this.#root = root
    this.#owned = owned
    this.#deadlines = deadlines
  }

  override request<T = null> (options: Dispatcher.RequestOptions<T>, callback: RequestCallback<T>): void
  override request<T = null> (options: Dispatcher.RequestOptions<T>): Promise<Dispatcher.ResponseData<T>>
  override request<T = null> (options: Dispatcher.RequestOptions<T>, callback?: RequestCallback<T>): Promise<Dispatcher.ResponseData<T>> | void {
    if (callback === undefined) {
      // undici's promise form does not come back through this method: made here, so it does.
      return new Promise((resolve, reject) => { this.request(options, (err, data) => { if (err === null) resolve(data); else reject(err) }) })
    }
    const watcher = (options.headers as Record<symbol, DispatchWatcher | undefined> | undefined)?.[kDispatchWatcher]
    if (watcher === undefined) { super.request(options, callback); return }
    // Counted from dispatch, so waiting for a pooled connection is part of it.
    const attempt = new Attempt()
    const deadlines = this.#deadlines
    deadlines.add(attempt)
    watcher.dispatched(attempt)
    super.request({ ...options, signal: attempt }, (err, data) => {
      deadlines.remove(attempt)
      if (err === null) watcher.headers(data.statusCode, data.headers)
      callback(err, data)
    })
  }

  override dispatch (options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    return this.#root.dispatch(options, handler)
  }

  override close (): Promise<void>
  override close (callback: () => void): void
  override close (callback?: () => void): Promise<void> | void {
    return settle(Promise.all([this.#root.close(), this.#owned?.close()]), callback)
  }

  override destroy (): Promise<void>
  override destroy (err: Error | null): Promise<void>
  override destroy (callback: () => void): void
  override destroy (err: Error | null, callback: () => void): void
  override destroy (errOrCallback?: Error | null | (() => void), callback?: () => void): Promise<void> | void {
    const err = typeof errOrCallback === 'function' ? null : errOrCallback ?? null
    return settle(Promise.all([this.#root.destroy(err), this.#owned?.destroy(err)]), typeof errOrCallback === 'function' ? errOrCallback : callback)
  }
}

/** undici's two calling conventions: a promise, or a callback when one is given. */
function settle (work: Promise<unknown>, callback: (() => void) | undefined): Promise<void> | void {
  const done = work.then(() => {})
  if (callback === undefined) return done
  done.then(callback, callback)
}

/** The upstream's own proxy; else the environment's, unless the target is loopback or NO_PROXY is `*`. Exported for `tollgate doctor`. */
export function chooseRoute (target: URL, configured: string | undefined, env: NodeJS.ProcessEnv): ProxyRoute | undefined {
  if (configured !== undefined) return { ...parseProxy(configured, 'proxy'), source: 'proxy', noProxy: undefined }
  if (isLoopback(target.hostname)) return undefined
  // undici's precedence: lower case first; HTTPS falls back to HTTP; an empty value means none.
  const http = variable(env, 'http_proxy', 'HTTP_PROXY')
  const https = variable(env, 'https_proxy', 'HTTPS_PROXY')
  const chosen = target.protocol === 'https:' && https.value ? https : http
  if (!chosen.value) return undefined
  const noProxy = variable(env, 'no_proxy', 'NO_PROXY').value?.trim() ?? ''
  if (noProxy === '*') return undefined
  return { ...parseProxy(chosen.value, chosen.name), source: chosen.name, noProxy }
}

function variable (env: NodeJS.ProcessEnv, lower: string, upper: string): { name: string, value: string | undefined } {
  return env[lower] === undefined ? { name: upper, value: env[upper] } : { name: lower, value: env[lower] }
}

/** A proxy URL → its origin and the Proxy-Authorization value. `host:port` alone means http:// (curl, Go). */
function parseProxy (value: string, source: string): { uri: string, token: string | undefined } {
  let url: URL
  try {
    url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? value : `http://${value}`)
  } catch {
    // Never the value: it may hold a password.
    throw new TypeError(`${source} is not a URL`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TypeError(`${source} must be an http:// or https:// proxy URL`)
  const user = decodeURIComponent(url.username)
  const token = user === '' ? undefined : `Basic ${Buffer.from(`${user}:${decodeURIComponent(url.password)}`).toString('base64')}`
  return { uri: url.origin, token }
}

/**
 * A ProxyAgent, or for an environment proxy with NO_PROXY an
 * EnvHttpProxyAgent given every value explicitly (so it never reads
 * process.env itself). https targets are tunnelled with CONNECT; plain http
 * ones are sent to the proxy in absolute form, as curl and Go do, which
 * proxies that only allow CONNECT to port 443 (squid's default) accept.
 */
function viaProxy (target: URL, route: ProxyRoute, connect: ConnectOptions, pool: object): Dispatcher {
  const common = {
    ...pool,
    ...(route.token === undefined ? {} : { token: route.token }),
    requestTls: connect,
    proxyTunnel: false
  }
  if (route.noProxy === undefined || route.noProxy === '') return new ProxyAgent({ ...common, uri: route.uri })
  const https = target.protocol === 'https:'
  return new EnvHttpProxyAgent({
    ...common,
    connect,
    httpProxy: https ? '' : route.uri,
    httpsProxy: https ? route.uri : '',
    noProxy: route.noProxy
  })
}

function describe (route: ProxyRoute, use: 'api' | 'token'): object {
  return { for: use, proxy: route.uri, from: route.source, ...(route.noProxy ? { noProxy: route.noProxy } : {}) }
}

/** Options for every TLS connection to the upstream and its token endpoint; built once. Exported for `tollgate doctor`. */
export function connectOptions (upstream: UpstreamConfig, env: NodeJS.ProcessEnv, lookup?: LookupFunction): ConnectOptions {
  const timeout = Math.min(upstream.timeoutMs, MAX_CONNECT_TIMEOUT_MS)
  const tls = upstream.tls
  if (tls === undefined) return lookup === undefined ? { timeout } : { timeout, lookup }
  const custom = tls.ca !== undefined || tls.cert !== undefined || tls.minVersion !== undefined
  const secureContext = custom ? createTlsContext(tls, env) : undefined
  return {
    timeout,
    ...(secureContext === undefined ? {} : { secureContext }),
    ...(tls.insecureSkipVerify === true ? { rejectUnauthorized: false } : {}),
    ...(lookup === undefined ? {} : { lookup })
  }
}

const LOOPBACK = new BlockList()
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4')
LOOPBACK.addAddress('::1', 'ipv6')

/** localhost, *.localhost (RFC 6761 §6.3), 127.0.0.0/8 and [::1], as a URL spells them. */
function isLoopback (hostname: string): boolean {
  const host = hostname.replace(/^\[(.*)\]$/, '$1').replace(/\.$/, '').toLowerCase()
  if (host === 'localhost' || host.endsWith('.localhost')) return true
  const family = isIP(host)
  return family !== 0 && LOOPBACK.check(host, family === 4 ? 'ipv4' : 'ipv6')
}
