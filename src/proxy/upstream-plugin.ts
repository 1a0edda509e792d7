/**
 * One encapsulated Fastify plugin per upstream, around @fastify/http-proxy:
 * routes `<prefix>` and `<prefix>/*`, streams bodies both ways through the
 * upstream's own undici pool, and hands each request to its Exchange
 * (exchange.ts), which owns its life:
 *   onRequest   path normalised and checked against the base (400 if it escapes); the Exchange made
 *   preHandler  body, token, limiter permit (synchronous in the common case)
 *   handler     reply.from with headers rewritten synchronously
 *   onResponse  the Exchange learns from the answer and says whether to retry
 * reply-from's own retries are off: they read Retry-After as milliseconds,
 * ignore 429 and cannot replay a streamed body (peers-and-pitfalls §7).
 */
import type { IncomingHttpHeaders } from 'node:http'
import type { Readable } from 'node:stream'
import httpProxy from '@fastify/http-proxy'
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { kDispatchWatcher } from '../egress/deadline.js'
import { translateUpstreamError } from '../egress/errors.js'
import { PathEscapesBase } from '../errors.js'
import { outgoingUrl } from '../logger.js'
import { appOrigin } from './base-url.js'
import { ClientGone, Exchange } from './exchange.js'
import { MAPPED_BODY_DIGESTS, mapPreparedBody, mapsRequestBody, REWRITTEN_BODY_DROPS, rewriteLocators, rewritesAnswer } from './fhir-links.js'
import { createBaseMatch } from './fhir-locator-scanner.js'
import { createRequestHeaderRewriter, withoutResponseHopByHop } from './headers.js'
import { createLinkHeaderMapper } from './link-headers.js'
import { normalizeSuffix, PathRefusal } from './normalize-path.js'
import type { UpstreamRuntime } from './runtime.js'

interface ReplyFromResponse {
  statusCode: number
  headers: IncomingHttpHeaders
  stream: Readable
}

export default async function upstreamPlugin (app: FastifyInstance, { runtime }: { runtime: UpstreamRuntime }): Promise<void> {
  const { config } = runtime
  const target = new URL(config.target)
  const basePath = target.pathname === '/' ? '' : target.pathname
  const prefixLength = config.prefix === '/' ? 0 : config.prefix.length
  const appPrefix = config.prefix.replace(/\/$/, '')
  const mapLinkHeaders = createLinkHeaderMapper(target, appPrefix)
  // rewriteLinks: fhir. Bodies are scanned only as sent (`identity`): decoding
  // and re-encoding would cost more than the bytes saved on a sidecar's hop.
  const rewriteBodies = config.rewriteLinks === 'fhir'
  const rewriteHeaders = createRequestHeaderRewriter(rewriteBodies ? { ...config.headers, 'accept-encoding': 'identity' } : config.headers)
  const upstreamBase = `${target.origin}${basePath}`
  const upstreamBaseMatch = createBaseMatch(target)
  const retryMethods = config.retry.methods
  // Read once: a sidecar's level is fixed for its life (a reload builds a new one).
  const debug = app.log.level === 'debug' || app.log.level === 'trace'

  // Callback-style hooks (here and below): an async hook costs a promise per request.
  app.addHook('onRequest', function routeRequest (request, reply, done) {
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
    request.tollgate = new Exchange(runtime, reply, basePath + suffix || '/', retryMethods.has(request.method))
    done()
  })

  let fromOptions: Record<string, unknown> | undefined

  // Fastify's own text/plain parser would decode the body into a UTF-8 string
  // (non-UTF-8 bytes lost, the body buffered whole, a kept body unreadable);
  // http-proxy passes JSON and '*' on as the raw stream, and so every type.
  app.removeAllContentTypeParsers()
  await app.register(httpProxy, {
    upstream: target.origin,
    prefix: config.prefix === '/' ? '' : config.prefix,
    undici: runtime.dispatcher as never,
    disableRequestLogging: true,
    internalRewriteLocationHeader: false,
    // Lets a 400 from routeRequest name the upstream before the exchange exists.
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

  // reply-from passes the request it serves (typed for any server kind).
  function rewriteResponseHeaders (upstreamHeaders: IncomingHttpHeaders, served?: unknown): IncomingHttpHeaders {
    const headers = withoutResponseHopByHop(upstreamHeaders)
    // Links into the base are given back in the app's terms: /main/Patient/1 → /halaxy/Patient/1.
    if (headers.location !== undefined || headers['content-location'] !== undefined || headers.link !== undefined) {
      const request = served as FastifyRequest
      mapLinkHeaders(headers, request, (request.tollgate as Exchange).path)
    }
    return headers
  }

  function rewriteRequestHeaders (request: FastifyRequest, headers: IncomingHttpHeaders): IncomingHttpHeaders {
    const exchange = request.tollgate as Exchange
    const rewritten = rewriteHeaders(headers, request.id, exchange.authorization)
    // A mapped body streamed on has another length: sent chunked. A kept one carries its own (reply-from).
    if (exchange.bodyMapped && exchange.replayBody === undefined) delete rewritten['content-length']
    // The app's digests are of the bytes it sent, not of the mapped ones (a vendor that checks them would refuse the body).
    if (exchange.bodyMapped) for (const name of MAPPED_BODY_DIGESTS) delete rewritten[name]
    // Traced: the vendor's parent is this attempt's span (the app's traceparent, passed through above, is replaced).
    if (exchange.attemptSpan !== undefined) rewritten.traceparent = exchange.attemptSpan.traceparent
    // The dispatcher finds the exchange here (egress/deadline.ts): to abort it, and to show it the answer.
    ;(rewritten as Record<symbol, unknown>)[kDispatchWatcher] = exchange
    return rewritten
  }

  function prepare (request: FastifyRequest, _reply: FastifyReply, done: (err?: Error) => void): void {
    const exchange = request.tollgate as Exchange
    // No body (prepareNow holds for none other): nothing to map.
    if (exchange.prepareNow(request.headers)) {
      done()
      return
    }
    const mapsBody = rewriteBodies && request.body !== undefined && request.body !== null && mapsRequestBody(request.headers)
    exchange.prepare(request).then(() => {
      if (mapsBody) mapPreparedBody(request, exchange, `${appOrigin(request)}${appPrefix}`, upstreamBase)
      done()
    }, done)
  }

  function send (request: FastifyRequest, reply: FastifyReply): void {
    const exchange = request.tollgate as Exchange
    exchange.sending()
    // Traced: one CLIENT span per attempt, url.full with every query value REDACTED (as the debug line below).
    if (exchange.span !== null) exchange.attemptSpan = exchange.span.attempt(request.method, target.origin, exchange.path, request.url, exchange.attempts - 1)
    if (debug) request.log.debug({ upstream: config.name, attempt: exchange.attempts, method: request.method, url: outgoingUrl(target.origin, exchange.path, request.url) }, 'upstream request')
    const body = exchange.replayBody
    const options = body === undefined
      ? fromOptions
      : { ...fromOptions, body, contentType: request.headers['content-type'] ?? 'application/octet-stream' }
    reply.from(exchange.path, options)
  }

  function onResponse (request: FastifyRequest, reply: FastifyReply, res: ReplyFromResponse): void {
    const exchange = request.tollgate as Exchange
    if (exchange.answered(res.statusCode, res.headers)) {
      // Discard the refused answer: drain it so the connection is reused, and forget the headers reply-from copied.
      res.stream.on('error', noop).resume()
      for (const name of Object.keys(res.headers)) reply.removeHeader(name)
      exchange.nextAttempt().then(() => { send(request, reply) }, (err: unknown) => { reply.send(err) })
      return
    }
    // An app that stops reading would hold the limiter slot and the upstream
    // connection forever (undici's body timeout pauses with backpressure).
    // Once the app falls behind (the pipe pauses the body for it), its socket
    // must make progress within `timeout`; most answers never pause, and a
    // socket timeout set on every response cost 2 µs. Node replaces it with
    // keep-alive's once the response ends.
    const socket = reply.raw.socket
    if (socket !== null) res.stream.on('pause', () => socket.setTimeout(config.timeoutMs))
    // No socket yet: pipelined behind an earlier answer on the app's connection, which may be a retry waiting
    // for this very slot (maxConcurrent). The slot goes once the vendor's answer is read whole.
    else res.stream.once('end', () => { exchange.upstreamRead() })
    if (rewriteBodies && rewritesAnswer(request.method, res.statusCode, res.headers)) {
      // The body changes length and bytes: sent chunked, without the upstream's length, digests or Accept-Ranges (ETag and Last-Modified stay: they name the resource's version).
      for (const name of REWRITTEN_BODY_DROPS) reply.removeHeader(name)
      reply.send(rewriteLocators(res.stream, upstreamBaseMatch, `${appOrigin(request)}${appPrefix}`))
      return
    }
    reply.send(res.stream)
  }

  function onError (reply: FastifyReply, { error }: { error: FastifyError }): void {
    const exchange = reply.request.tollgate as Exchange
    if (exchange.bodyError !== undefined) error = exchange.bodyError as FastifyError
    // Aborted because the app hung up (exchange.ts): nothing failed upstream.
    const answer = error.cause instanceof ClientGone ? error.cause : translateUpstreamError(error, config.timeoutMs)
    exchange.failed(answer)
    reply.send(answer)
  }
}

function noop (): void {}
