/**
 * One request's life through the sidecar, owned by one object: credential,
 * permit, attempt, answer, release, retry. It alone takes and frees the
 * limiter permit, so whatever stage the app leaves in, one 'close' listener
 * knows what is held and frees it:
 *
 *   stage the app leaves in            slot   window unit            upstream
 *   body / token wait / queue / pause  freed  never taken, or given back  nothing sent
 *   in flight (no answer yet)          freed  stamped (ages out W later)  request aborted
 *   between a 401 or 429 and its retry freed  given back                  nothing sent
 *   streaming the answer               freed  stamped                     body dropped
 *
 * An answer that arrives for an app that has gone still teaches the limiter
 * (stamp, 429 pause, x-ratelimit-remaining) and the token cache (401): the
 * dispatch watcher sees the headers even when reply-from drops them.
 *
 * `maxWait` bounds the time spent waiting inside tollgate across every
 * attempt, from arrival: a retry waits only for what is left, and a pause
 * that outlasts it is passed back at once.
 *
 * Traced (telemetry/tracing.ts), the request's span learns what the
 * exchange does: the limiter's waits as events, each attempt as a child
 * span (ended when its headers arrive or it fails), the token fetch it
 * started or waited for. Off, `span` is null and each place checks that alone.
 */
import type { IncomingHttpHeaders } from 'node:http'
import type { Readable } from 'node:stream'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { CredentialSource } from '../auth/source.js'
import type { Attempt, DispatchWatcher } from '../egress/deadline.js'
import { BodyTooLarge } from '../errors.js'
import { capRetryAfter, MAX_RETRY_AFTER_MS, parseRetryAfter } from '../http/retry-after.js'
import { PAUSE_ONLY } from '../limit/index.js'
import type { Permit } from '../limit/limiter.js'
import type { UpstreamMeter } from '../ops/metrics.js'
import type { AttemptSpan, ServerSpan } from '../telemetry/tracing.js'
import { limitBody, readBody, REPLAY_LIMIT } from './body.js'
import type { UpstreamRuntime } from './runtime.js'

/**
 * The app hung up: what a wait or an upstream request for it is ended with.
 * Not a failure of tollgate's or of the vendor's: the problem handler logs it
 * at debug, without a stack (src/problem.ts).
 */
export class ClientGone extends Error {
  constructor () {
    super('the client went away')
    this.name = 'ClientGone'
  }
}

const METER_REASONS: Readonly<Record<string, 'queue_full' | 'queue_timeout' | 'paused' | 'shutting_down'>> = {
  TG_QUEUE_FULL: 'queue_full',
  TG_QUEUE_TIMEOUT: 'queue_timeout',
  TG_UPSTREAM_PAUSED: 'paused',
  // Still queued when the limiter closed (shutdown): refused by the limiter like the others.
  TG_SHUTTING_DOWN: 'shutting_down'
}

export class Exchange implements DispatchWatcher {
  /** The upstream's name, for logs and problem answers. */
  readonly upstream: string
  /** Its metrics, recorded by the one onResponse hook (server.ts) that also logs the request. */
  readonly meter: UpstreamMeter
  /** Base path + normalised suffix, without the query (sent byte for byte from the raw URL). */
  readonly path: string
  /** The Authorization value this attempt carries; what a 401 invalidates. */
  authorization: string | undefined = undefined
  /** The body kept for replay, when the request is retryable and small enough. */
  replayBody: Buffer | undefined = undefined
  /** Whether a failed attempt may be sent again (idempotent method, body absent or kept). */
  replayable: boolean
  attempts = 0
  /** Time spent waiting for a token or a limiter slot, across attempts. */
  waitedMs = 0
  /** The upstream's time to response headers (or failure), summed over attempts. */
  upstreamMs = 0
  /** tollgate's own share of the time to the final response headers, once known. */
  sidecarMs: number | undefined = undefined
  /** The request body is mapped to the upstream's base on its way (fhir-links.ts): its length is not the app's. */
  bodyMapped = false
  /** The request body broke tollgate's own limit (a chunked body over bodyLimit). */
  bodyError: Error | undefined = undefined
  /** The request's SERVER span; null when tracing is off. */
  readonly span: ServerSpan | null
  /** The current attempt's CLIENT span (upstream-plugin.ts starts it), until it ends. */
  attemptSpan: AttemptSpan | undefined = undefined

  readonly #runtime: UpstreamRuntime
  readonly #reply: FastifyReply
  #permit: Permit | undefined = undefined
  /** The current attempt went out: its unit is stamped, never given back. */
  #sent = false
  /** The current attempt's answer has taught the limiter and the token cache. */
  #learned = false
  #pauseMs = 0
  #attemptStartedAt = 0
  #retried401 = 0
  #retried429 = 0
  /** The attempt on the wire with no answer yet: what the app leaving aborts. */
  #inFlight: Attempt | undefined = undefined
  /** Aborts a token or queue wait the app gave up on; made only when a wait happens. */
  #waiting: AbortController | undefined = undefined
  /** authorization() asked on the hot path, to be awaited by prepare(), never asked twice. */
  #pending: ReturnType<CredentialSource['authorization']> | undefined = undefined

  constructor (runtime: UpstreamRuntime, reply: FastifyReply, path: string, replayable: boolean) {
    this.#runtime = runtime
    this.#reply = reply
    this.upstream = runtime.config.name
    this.meter = runtime.meter
    this.path = path
    this.replayable = replayable
    this.span = reply.request.serverSpan
    if (this.span !== null) this.span.routed(this.upstream, runtime.config.prefix)
    // Counted until the response closes: a retired config generation is closed once its exchanges are over.
    runtime.activity.enter()
    reply.raw.once('close', () => { this.#closed() })
  }

  /** The limiter's own maxWait (PAUSE_ONLY's without rateLimit): a budget handed to it is never Infinity. Read on the slow paths only. */
  get #maxWaitMs (): number {
    return (this.#runtime.config.rateLimit ?? PAUSE_ONLY).maxWaitMs
  }

  /**
   * The common case, synchronously: no body to read, the token at hand, a
   * permit free. False sends the caller to `prepare()`.
   */
  prepareNow (headers: IncomingHttpHeaders): boolean {
    if (headers['content-length'] !== undefined || headers['transfer-encoding'] !== undefined) return false
    const authorization = this.#runtime.credentials.authorization(this.span)
    const permit = typeof authorization === 'object' ? undefined : this.#runtime.limiter.tryAcquire?.()
    if (permit === undefined) {
      this.#pending = authorization
      return false
    }
    this.authorization = authorization as string | undefined
    this.#permit = permit
    return true
  }

  /** Body, token, permit, each wait ended early by the app leaving (nothing taken, or withdrawn). */
  async prepare (request: FastifyRequest): Promise<void> {
    await this.#prepareBody(request)
    const waitStart = performance.now()
    const pending = this.#pending ?? this.#runtime.credentials.authorization(this.span)
    this.#pending = undefined
    this.authorization = typeof pending === 'object' ? await pending : pending
    this.#leaveIfGone()
    // The token wait counts against maxWait: the queue gets what is left of it.
    this.#permit = this.#runtime.limiter.tryAcquire?.() ?? await this.#acquire(this.#maxWaitMs - (performance.now() - waitStart))
    this.#leaveIfGone()
    const waited = performance.now() - waitStart
    if (waited > 1) {
      this.waitedMs += waited
      // The wait may have outlived the token: take the current one (a plain string unless it must be refetched).
      this.authorization = await this.#runtime.credentials.authorization(this.span)
      this.#leaveIfGone()
    }
  }

  /** The attempt goes out now. */
  sending (): void {
    this.attempts++
    this.#sent = true
    this.#learned = false
    this.#attemptStartedAt = performance.now()
  }

  dispatched (attempt: Attempt): void {
    this.#inFlight = attempt
    // The app left before this attempt went out: never send it.
    if (appGone(this.#reply.raw)) attempt.abort(new ClientGone())
  }

  headers (statusCode: number, headers: IncomingHttpHeaders): void {
    this.#inFlight = undefined
    if (this.attemptSpan !== undefined) {
      this.attemptSpan.answered(statusCode)
      this.attemptSpan = undefined
    }
    // reply-from drops an answer for an app that has gone (request.raw.aborted): learn from it here.
    if (appGone(this.#reply.raw)) this.#learn(statusCode, headers)
  }

  /** The upstream answered; true when the request should be sent again (after `nextAttempt`). */
  answered (statusCode: number, headers: IncomingHttpHeaders): boolean {
    this.upstreamMs += performance.now() - this.#attemptStartedAt
    this.#learn(statusCode, headers)
    const { retry } = this.#runtime.config
    if (statusCode === 401 && this.authorization !== undefined) {
      if (this.#runtime.credentials.renewable && this.replayable && this.#retried401 < retry.on401) {
        this.#retried401++
        this.meter.retry('401')
        return true
      }
    } else if (asksToWait(statusCode, headers)) {
      // maxWait bounds the whole wait inside tollgate: a pause that outlasts what is left is passed back now.
      if (this.replayable && this.#retried429 < retry.on429 && this.#pauseMs <= this.#maxWaitMs - this.waitedMs) {
        this.#retried429++
        this.meter.retry('429')
        return true
      }
    }
    this.sidecarMs = this.#reply.elapsedTime - this.upstreamMs
    return false
  }

  /** Between a refused attempt and its retry: the old permit goes, a token and a permit come, within what is left of maxWait. */
  async nextAttempt (): Promise<void> {
    this.#permit?.release()
    this.#permit = undefined
    this.#sent = false
    const waitStart = performance.now()
    this.authorization = await this.#runtime.credentials.authorization(this.span)
    this.#leaveIfGone()
    this.#permit = await this.#acquire(this.#maxWaitMs - this.waitedMs - (performance.now() - waitStart))
    this.#leaveIfGone()
    this.waitedMs += performance.now() - waitStart
  }

  /** The vendor's answer has been read whole: its connection, and so the concurrency slot, are free (the app may not have it yet). */
  upstreamRead (): void {
    this.#permit?.release()
  }

  /** The attempt failed before an answer (network, timeout, our own body limit): it may have reached the upstream. `error`: what the app is answered. */
  failed (error?: Error): void {
    this.#inFlight = undefined
    if (this.attemptSpan !== undefined) {
      this.attemptSpan.failed(errorType(error))
      this.attemptSpan = undefined
    }
    this.upstreamMs += performance.now() - this.#attemptStartedAt
    this.sidecarMs = this.#reply.elapsedTime - this.upstreamMs
    this.#permit?.release()
  }

  /** What the answer teaches, once per attempt, whether or not the app is still there. */
  #learn (statusCode: number, headers: IncomingHttpHeaders): void {
    if (this.#learned) return
    this.#learned = true
    this.#pauseMs = 0
    const { credentials, limiter } = this.#runtime
    // The window counts this start from now: no earlier than the vendor saw it (src/limit/sliding-window.ts).
    this.#permit?.answered()
    limiter.observe(headers)
    const authorization = this.authorization
    if (authorization !== undefined) {
      if (statusCode === 401) credentials.invalidate(authorization)
      else credentials.confirmed?.(authorization)
    }
    if (asksToWait(statusCode, headers)) {
      // The wall clock only to read an HTTP-date; the limiter is told a duration.
      const asked = parseRetryAfter(headers['retry-after'], Date.now())
      // Obeyed up to a cap, so one bad header cannot stall an upstream for a day.
      const { ms, capped } = capRetryAfter(asked, MAX_RETRY_AFTER_MS)
      if (capped) this.#reply.log.warn({ upstream: this.upstream, retryAfterMs: asked, capMs: MAX_RETRY_AFTER_MS }, 'upstream retry-after capped')
      // What a retry would wait: the upstream's whole pause, which an earlier 429 may have made longer than this one's.
      this.#pauseMs = limiter.pauseFor(ms)
    }
  }

  async #acquire (budgetMs?: number): Promise<Permit> {
    this.#waiting ??= new AbortController()
    const span = this.span
    const startedAt = span === null ? 0 : performance.now()
    try {
      const permit = await this.#runtime.limiter.acquire(this.#waiting.signal, budgetMs)
      if (span !== null) span.limiterWait(startedAt, performance.now() - startedAt, 'acquired')
      return permit
    } catch (err) {
      const code = (err as { code?: string }).code ?? ''
      const reason = METER_REASONS[code]
      if (reason !== undefined) this.meter.rejected(reason)
      if (span !== null) span.limiterWait(startedAt, performance.now() - startedAt, errorType(err as Error))
      throw err
    }
  }

  async #prepareBody (request: FastifyRequest): Promise<void> {
    const headers = request.headers
    const lengthHeader = headers['content-length']
    const chunked = headers['transfer-encoding'] !== undefined
    if (lengthHeader === undefined && !chunked) return
    const { bodyLimit } = this.#runtime.config
    const length = Number(lengthHeader)
    if (length > bodyLimit) throw new BodyTooLarge(bodyLimit)
    const body = request.body as Readable | undefined
    if (body === undefined || length === 0) return
    if (chunked) {
      // The limit error is kept: it may fire before undici listens to the stream.
      request.body = limitBody(body, bodyLimit).on('error', (err) => { this.bodyError = err })
      this.replayable = false
    } else if (this.replayable && length <= REPLAY_LIMIT) {
      this.replayBody = await readBody(body)
    } else {
      this.replayable = false
    }
  }

  /** The app hung up during a wait: give back what was taken (nothing was sent) and stop here. */
  #leaveIfGone (): void {
    if (!appGone(this.#reply.raw)) return
    this.#permit?.withdraw()
    this.#permit = undefined
    throw new ClientGone()
  }

  /** The exchange is over, answered or not: free what is held, stop what still runs. */
  #closed (): void {
    const gone = !this.#reply.raw.writableFinished
    if (gone) {
      this.#waiting?.abort(new ClientGone())
      // On the wire with no answer yet: the vendor is not kept working for nobody.
      this.#inFlight?.abort(new ClientGone())
      // No response to log: the spans end here (each ends once; onResponse may have ended the request's).
      this.attemptSpan?.failed('ClientGone')
      this.span?.end(CLIENT_CLOSED_STATUS, 'ClientGone')
    }
    // Sent: its unit is stamped (it may have reached the vendor). Not sent: it goes back unstamped.
    if (this.#sent) this.#permit?.release()
    else this.#permit?.withdraw()
    this.#runtime.activity.leave()
  }
}

/** What tollgate answers for an app that hung up (src/problem.ts CLIENT_CLOSED_REQUEST, nginx's 499). */
const CLIENT_CLOSED_STATUS = 499

/** A span's error.type for an error: its TG_* code, else its name (ClientGone, AbortError). */
function errorType (error: Error | undefined): string {
  const code = (error as { code?: unknown } | undefined)?.code
  return typeof code === 'string' ? code : error?.name ?? 'Error'
}

/** A 429, or a 503 that says when to come back: the upstream pauses, and the request may be retried after. */
function asksToWait (statusCode: number, headers: IncomingHttpHeaders): boolean {
  return statusCode === 429 || (statusCode === 503 && headers['retry-after'] !== undefined)
}

/** The socket closed before the answer was written whole: the app hung up. */
function appGone (raw: FastifyReply['raw']): boolean {
  return raw.destroyed && !raw.writableFinished
}

declare module 'fastify' {
  interface FastifyRequest {
    tollgate: Exchange | null
  }
}
