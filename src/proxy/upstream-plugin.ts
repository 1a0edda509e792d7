/**
 * One encapsulated Fastify plugin per upstream, around @fastify/http-proxy:
 * routes `<prefix>` and `<prefix>/*`, streams bodies both ways through the
 * upstream's own undici pool, and adds what a sidecar must:
 *   onRequest   path normalised and checked against the base (400 if it escapes)
 *   preHandler  body limit, replay buffer, token, limiter slot (all async work)
 *   handler     reply.from with headers rewritten synchronously
 *   onResponse  x-ratelimit learning, 401 repair, 429 pause, transparent retries
 * reply-from's own retries are off: they read Retry-After as milliseconds,
 * ignore 429 and cannot replay a streamed body (peers-and-pitfalls §7).
 */
import type { IncomingHttpHeaders } from 'node:http'
import type { Readable } from 'node:stream'
import httpProxy from '@fastify/http-proxy'
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { Dispatcher } from 'undici'
import type { CredentialSource } from '../auth/source.js'
import type { UpstreamConfig } from '../config/types.js'
import { BodyTooLarge, PathEscapesBase } from '../errors.js'
import type { Limiter, Permit } from '../limit/limiter.js'
import type { UpstreamMeter } from '../ops/metrics.js'
import { capRetryAfter, MAX_RETRY_AFTER_MS, parseRetryAfter } from '../http/retry-after.js'
import { limitBody, readBody, REPLAY_LIMIT } from './body.js'
import type { ProxyContext } from './context.js'
import { createRequestHeaderRewriter, withoutResponseHopByHop } from './headers.js'
import { normalizeSuffix, PathRefusal } from './normalize-path.js'
import { translateUpstreamError } from '../egress/errors.js'

export interface UpstreamRuntime {
  readonly config: UpstreamConfig
  /** Replaced when a rotated secret file changes the credentials (ops/secret-rotation.ts). */
  credentials: CredentialSource
  readonly limiter: Limiter
  readonly dispatcher: Dispatcher
  readonly meter: UpstreamMeter
}

interface ReplyFromResponse {
  statusCode: number
  headers: IncomingHttpHeaders
  stream: Readable
}

export default async function upstreamPlugin (app: FastifyInstance, { runtime }: { runtime: UpstreamRuntime }): Promise<void> {
  const { config, limiter, meter } = runtime
  const target = new URL(config.target)
  const basePath = target.pathname === '/' ? '' : target.pathname
  const prefixLength = config.prefix === '/' ? 0 : config.prefix.length
  const appPrefix = config.prefix.replace(/\/$/, '')
  const rewriteHeaders = createRequestHeaderRewriter(config.headers)
  const retryMethods = config.retry.methods
  const maxWaitMs = config.rateLimit?.maxWaitMs ?? Infinity

  // Callback-style hooks (here and below): an async hook costs a promise per request.
  app.addHook('onRequest', function routeRequest (request, _reply, done) {
    const url = request.url
    const query = url.indexOf('?')
    const path = query === -1 ? url : url.slice(0, query)
    // The router matched a decoded path; the raw one must carry the prefix literally.
    if (!path.startsWith(config.prefix) || (prefixLength > 0 && path.length > prefixLength && path[prefixLength] !== '/')) {
      done(new PathEscapesBase('spells the upstream prefix with encoded characters'))
      return
    }
    const suffix = normalizeSuffix(path.slice(prefixLength))
    if (suffix instanceof PathRefusal) {
      done(new PathEscapesBase(suffix.reason))
      return
    }
    const context: ProxyContext = {
      upstream: config.name,
      meter,
      path: basePath + suffix || '/',
      authorization: undefined,
      permit: undefined,
      dispatched: false,
      replayBody: undefined,
      replayable: retryMethods.has(request.method),
      attempts: 0,
      retried401: 0,
      retried429: 0,
      waitedMs: 0,
      attemptStartedAt: 0,
      upstreamMs: 0,
      sidecarMs: undefined
    }
    request.tollgate = context
    done()
  })

  let fromOptions: Record<string, unknown> | undefined

  await app.register(httpProxy, {
    upstream: target.origin,
    prefix: config.prefix === '/' ? '' : config.prefix,
    undici: runtime.dispatcher as never,
    disableRequestLogging: true,
    internalRewriteLocationHeader: false,
    // Lets a 400 from routeRequest name the upstream before the context exists.
    config: { upstream: config.name },
    // tollgate computes the destination itself (normalised path, query byte for
    // byte) and ignores http-proxy's; handing it the bare prefix spares its
    // per-request query re-serialisation and its blanket refusal of `..` and
    // `//`, which routeRequest has already judged.
    preRewrite: (_url: string, _params: unknown, prefix: string) => prefix,
    replyOptions: { rewriteHeaders: rewriteResponseHeaders },
    preHandler: prepare,
    handler (request, reply, _dest, options) {
      // http-proxy's options carry its header sanitiser; ours are added once, on first use.
      fromOptions ??= {
        ...options,
        timeout: config.timeoutMs,
        retryDelay: () => null,
        rewriteRequestHeaders,
        onResponse,
        onError
      }
      send(request, reply)
    }
  })

  function rewriteResponseHeaders (upstreamHeaders: IncomingHttpHeaders): IncomingHttpHeaders {
    const headers = withoutResponseHopByHop(upstreamHeaders)
    const location = headers.location
    // A Location inside the base path is given back in the app's terms: /main/Patient/1 → /halaxy/Patient/1.
    if (typeof location === 'string' && location.startsWith('/') && (basePath === '' || location === basePath || location.startsWith(`${basePath}/`))) {
      headers.location = appPrefix + location.slice(basePath.length)
    }
    return headers
  }

  function rewriteRequestHeaders (request: FastifyRequest, headers: IncomingHttpHeaders): IncomingHttpHeaders {
    return rewriteHeaders(headers, request.id, (request.tollgate as ProxyContext).authorization)
  }

  /**
   * The common case — no body to keep, the token at hand, a permit free — is
   * synchronous: no promise at all. Anything else takes the async path.
   */
  function prepare (request: FastifyRequest, reply: FastifyReply, done: (err?: Error) => void): void {
    const context = request.tollgate as ProxyContext
    watchClose(reply, context)
    const headers = request.headers
    let authorization: ReturnType<CredentialSource['authorization']> | undefined
    if (headers['content-length'] === undefined && headers['transfer-encoding'] === undefined) {
      authorization = runtime.credentials.authorization()
      const permit = typeof authorization === 'object' ? undefined : limiter.tryAcquire?.()
      if (permit !== undefined) {
        context.authorization = authorization as string | undefined
        context.permit = permit
        done()
        return
      }
    }
    prepareSlowly(request, reply, context, authorization).then(() => { done() }, done)
  }

  /**
   * `pending` is an authorization() result the fast path already asked for:
   * awaited, not asked again (a rejection must not go unhandled). After each
   * wait the app may have gone: then nothing is taken, or what was taken is
   * withdrawn, and nothing is sent.
   */
  async function prepareSlowly (request: FastifyRequest, reply: FastifyReply, context: ProxyContext, pending?: ReturnType<CredentialSource['authorization']>): Promise<void> {
    await prepareBody(request, context)
    const waitStart = performance.now()
    const authorization = pending ?? runtime.credentials.authorization()
    context.authorization = typeof authorization === 'object' ? await authorization : authorization
    leaveIfGone(reply, context)
    // The common case takes a permit synchronously; only a request that must queue needs a signal to leave it.
    context.permit = limiter.tryAcquire?.() ?? await acquire(clientGone(reply))
    leaveIfGone(reply, context)
    const waited = performance.now() - waitStart
    if (waited > 1) {
      context.waitedMs += waited
      // The wait may have outlived the token: take the current one (a plain string unless it must be refetched).
      context.authorization = await runtime.credentials.authorization()
      leaveIfGone(reply, context)
    }
  }

  /** The app hung up during a wait: withdraw the permit (nothing was sent) and stop here. */
  function leaveIfGone (reply: FastifyReply, context: ProxyContext): void {
    if (!appGone(reply.raw)) return
    context.permit?.withdraw()
    context.permit = undefined
    throw clientGone(reply).reason
  }

  async function acquire (signal: AbortSignal): Promise<Permit> {
    try {
      return await limiter.acquire(signal)
    } catch (err) {
      const code = (err as { code?: string }).code
      if (code === 'TG_QUEUE_FULL') meter.rejected('queue_full')
      else if (code === 'TG_QUEUE_TIMEOUT') meter.rejected('queue_timeout')
      else if (code === 'TG_UPSTREAM_PAUSED') meter.rejected('paused')
      throw err
    }
  }

  async function prepareBody (request: FastifyRequest, context: ProxyContext): Promise<void> {
    const headers = request.headers
    const lengthHeader = headers['content-length']
    const chunked = headers['transfer-encoding'] !== undefined
    if (lengthHeader === undefined && !chunked) return
    const length = Number(lengthHeader)
    if (length > config.bodyLimit) throw new BodyTooLarge(config.bodyLimit)
    const body = request.body as Readable | undefined
    if (body === undefined || length === 0) return
    if (chunked) {
      // The limit error is kept: it may fire before undici listens to the stream.
      request.body = limitBody(body, config.bodyLimit).on('error', (err) => { context.bodyError = err })
      context.replayable = false
    } else if (context.replayable && length <= REPLAY_LIMIT) {
      context.replayBody = await readBody(body)
    } else {
      context.replayable = false
    }
  }

  function send (request: FastifyRequest, reply: FastifyReply): void {
    const context = request.tollgate as ProxyContext
    context.attempts++
    context.dispatched = true
    context.attemptStartedAt = performance.now()
    const body = context.replayBody
    const options = body === undefined
      ? fromOptions
      : { ...fromOptions, body, contentType: request.headers['content-type'] ?? 'application/octet-stream' }
    reply.from(context.path, options)
  }

  function onResponse (request: FastifyRequest, reply: FastifyReply, res: ReplyFromResponse): void {
    const context = request.tollgate as ProxyContext
    const status = res.statusCode
    context.upstreamMs += performance.now() - context.attemptStartedAt
    // The window counts this start from now: no earlier than the vendor saw it (src/limit/sliding-window.ts).
    context.permit?.answered()
    limiter.observe(res.headers)
    if (status === 401 && context.authorization !== undefined) {
      runtime.credentials.invalidate(context.authorization)
      if (context.replayable && context.retried401 < config.retry.on401) {
        context.retried401++
        meter.retry('401')
        return retry(request, reply, res)
      }
    } else if (status === 429 || (status === 503 && res.headers['retry-after'] !== undefined)) {
      const pauseMs = pause(request, res.headers['retry-after'])
      // maxWait bounds the whole wait inside tollgate: a pause that outlasts what is left is passed back now.
      if (context.replayable && context.retried429 < config.retry.on429 && pauseMs <= maxWaitMs - context.waitedMs) {
        context.retried429++
        meter.retry('429')
        return retry(request, reply, res)
      }
    }
    context.sidecarMs = reply.elapsedTime - context.upstreamMs
    // An app that stops reading would hold the limiter slot and the upstream
    // connection forever (undici's body timeout pauses with backpressure).
    // Once the app falls behind (the pipe pauses the body for it), its socket
    // must make progress within `timeout`; most answers never pause, and a
    // socket timeout set on every response cost 2 µs. Node replaces it with
    // keep-alive's once the response ends.
    const socket = reply.raw.socket
    if (socket !== null) res.stream.on('pause', () => socket.setTimeout(config.timeoutMs))
    reply.send(res.stream)
  }

  /** Pause the upstream as asked; returns the pause in ms. */
  function pause (request: FastifyRequest, retryAfter: string | string[] | undefined): number {
    // The wall clock only to read an HTTP-date; the limiter is told a duration.
    const asked = parseRetryAfter(retryAfter, Date.now())
    // A vendor's retry-after is obeyed up to a cap, so one bad header cannot stall an upstream for a day.
    const { ms, capped } = capRetryAfter(asked, MAX_RETRY_AFTER_MS)
    if (capped) request.log.warn({ upstream: config.name, retryAfterMs: asked, capMs: MAX_RETRY_AFTER_MS }, 'upstream retry-after capped')
    limiter.pauseFor(ms)
    return ms
  }

  function retry (request: FastifyRequest, reply: FastifyReply, res: ReplyFromResponse): void {
    const context = request.tollgate as ProxyContext
    // Discard the refused answer: drain it so the connection is reused, and forget the headers reply-from copied.
    res.stream.on('error', noop).resume()
    for (const name of Object.keys(res.headers)) reply.removeHeader(name)
    context.permit?.release()
    context.permit = undefined
    context.dispatched = false
    prepareAttempt(request, reply, context).then(() => { send(request, reply) }, (err: unknown) => { reply.send(err) })
  }

  async function prepareAttempt (_request: FastifyRequest, reply: FastifyReply, context: ProxyContext): Promise<void> {
    const waitStart = performance.now()
    context.authorization = await runtime.credentials.authorization()
    leaveIfGone(reply, context)
    context.permit = await acquire(clientGone(reply))
    leaveIfGone(reply, context)
    context.waitedMs += performance.now() - waitStart
  }

  function onError (reply: FastifyReply, { error }: { error: FastifyError }): void {
    const context = reply.request.tollgate as ProxyContext
    if (context.bodyError !== undefined) error = context.bodyError as FastifyError
    context.upstreamMs += performance.now() - context.attemptStartedAt
    context.sidecarMs = reply.elapsedTime - context.upstreamMs
    context.permit?.answered()
    context.permit?.release()
    reply.send(translateUpstreamError(error, config.timeoutMs))
  }
}

const kWatched = Symbol('tollgate.watched')
const kGone = Symbol('tollgate.clientGone')

type WatchedRaw = FastifyReply['raw'] & { [kWatched]?: true, [kGone]?: AbortController }

/**
 * One 'close' listener per request: it frees the current limiter permit when
 * the exchange ends (normally or not), and aborts a wait the app gave up on.
 */
function watchClose (reply: FastifyReply, context: ProxyContext): void {
  const raw = reply.raw as WatchedRaw
  if (raw[kWatched] === true) return
  raw[kWatched] = true
  raw.once('close', () => {
    // Not yet sent (between a 401 or 429 and its retry): the unit goes back unstamped.
    if (context.dispatched) context.permit?.release()
    else context.permit?.withdraw()
    if (!raw.writableFinished) raw[kGone]?.abort(new Error('the client went away'))
  })
}

/** The signal that aborts a queued wait when the app goes away (watchClose fires it). */
function clientGone (reply: FastifyReply): AbortSignal {
  const raw = reply.raw as WatchedRaw
  raw[kGone] ??= new AbortController()
  // Already gone before we started to wait: abort now, no 'close' will come again.
  if (appGone(raw)) raw[kGone].abort(new Error('the client went away'))
  return raw[kGone].signal
}

/** The socket closed before the answer was written whole: the app hung up. */
function appGone (raw: FastifyReply['raw']): boolean {
  return raw.destroyed && !raw.writableFinished
}

function noop (): void {}
