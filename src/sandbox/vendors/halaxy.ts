/**
 * Halaxy, as Halaxy's page describes it (mounted for both the AU and the EU
 * host):
 * - token: POST /main/oauth/token, `Content-Type: application/json`, body
 *   `{ grant_type, client_id, client_secret }`; answer
 *   `{ token_type: 'Bearer', expires_in, access_token }`;
 * - API: /main/Patient with `Accept: application/fhir+json` and
 *   `User-Agent: APP_VENDOR_NAME (APP_VENDOR_EMAIL)`; as a FHIR server does,
 *   search (`_count`, `next`/`previous` links), read and create, every URL
 *   absolute under the vendor's own base;
 * - "All requests authenticated with OAuth are rate-limited to 500 requests
 *   per minute" (sliding window, per client here), with x-ratelimit-limit and
 *   x-ratelimit-remaining on each such answer and 429 + retry-after beyond.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { VendorLayout } from '../layout.js'
import type { ResolvedHalaxy } from '../options.js'
import { resourceHandler, type ResourceGate } from '../resource-route.js'
import { SlidingWindow } from '../sliding-window.js'
import { authenticateWithSecret } from '../client-secret.js'
import { registerTokenEndpoint } from '../token-endpoint.js'
import { readTokenRequest } from '../token-request.js'
import { issueToken, requestOrigin, type VendorContext } from '../vendor-context.js'
import { fhirReply, registerFhirApi } from '../fhir-api.js'
import { operationOutcome } from '../fhir-resources.js'

const DOC = 'see docs/vendors/halaxy.md'

/** Halaxy's page, "Identify your application": `APP_VENDOR_NAME (APP_VENDOR_EMAIL)`. */
const USER_AGENT_FORMAT = /^\S.* \([^()\s]+@[^()\s]+\)$/

export function registerHalaxy (app: FastifyInstance, ctx: VendorContext, options: ResolvedHalaxy, paths: VendorLayout): { reset: () => void } {
  registerTokenEndpoint(app, paths.tokenPath, ctx, async (request) => {
    const params = readTokenRequest(request, 'json', DOC)
    if (!params.ok) return params
    const client = authenticateWithSecret(request, params.value, 'client_secret_post', options.clients, ctx.vendor)
    if (!client.ok) return client
    const { token } = await issueToken(ctx, client.value)
    // Field order as in the page's example answer.
    return { ok: true, body: { token_type: 'Bearer', expires_in: ctx.lifetime.expiresInSeconds, access_token: token } }
  })

  const windows = new Map<string, SlidingWindow>()
  const limit = rateLimitGate(ctx, options.rateLimit, windows)
  const gate: ResourceGate = (request, reply, token) => {
    flagAnonymousUserAgent(request, reply)
    return limit(request, reply, token)
  }
  // The FHIR API, state in memory (fhir-api.ts), under Halaxy's base.
  const fhir = registerFhirApi(app, ctx, {
    root: paths.target,
    base: (request) => `${requestOrigin(request)}${ctx.prefix}${paths.target}`,
    gate,
    notModelled
  })

  // Everything else below /main is still authenticated and counted against the
  // limit, as any Halaxy API call would be, but not modelled.
  app.all(`${paths.target}/*`, resourceHandler(ctx, notModelled, gate))

  function notModelled (request: FastifyRequest, reply: FastifyReply): FastifyReply {
    return fhirReply(reply, 404, operationOutcome('not-supported', `the sandbox models only search, read, vread and create (GET {type}, GET {type}/{id}[/_history/{vid}], POST {type}), not ${request.method} ${request.url.slice(ctx.prefix.length)}`))
  }

  return {
    reset: () => {
      windows.clear()
      fhir.reset()
    }
  }
}

/**
 * The per-client sliding window, and the x-ratelimit-* headers Halaxy's page
 * documents on every OAuth-authenticated answer. Refused requests are not counted: they
 * never started.
 */
function rateLimitGate (ctx: VendorContext, limit: { requests: number, windowMs: number }, windows: Map<string, SlidingWindow>): ResourceGate {
  // `windows` is keyed by client id, and clients are configured, so it is bounded.
  return (_request, reply, token) => {
    let window = windows.get(token.clientId)
    if (window === undefined) {
      window = new SlidingWindow(limit.requests, limit.windowMs)
      windows.set(token.clientId, window)
    }
    const decision = window.take(ctx.now())
    reply.header('x-ratelimit-limit', String(decision.limit)).header('x-ratelimit-remaining', String(decision.remaining))
    if (decision.allowed) return true
    ctx.stats.rateLimited++
    // "a retry-after header that tells you how many seconds to wait": whole seconds, rounded up so waiting that long is enough.
    const seconds = Math.max(1, Math.ceil(decision.retryAfterMs / 1000))
    fhirReply(reply.header('retry-after', String(seconds)), 429,
      operationOutcome('throttled', `more than ${decision.limit} requests in ${limit.windowMs} ms; retry after ${seconds} s`))
    return false
  }
}

/**
 * The page asks every caller to send `User-Agent: APP_VENDOR_NAME (APP_VENDOR_EMAIL)` but does not say
 * what happens otherwise, so the sandbox flags it rather than refusing.
 */
function flagAnonymousUserAgent (request: FastifyRequest, reply: FastifyReply): void {
  const userAgent = request.headers['user-agent']
  if (userAgent === undefined || !USER_AGENT_FORMAT.test(userAgent)) {
    reply.header('x-sandbox-warning', 'Halaxy asks for User-Agent: APP_VENDOR_NAME (APP_VENDOR_EMAIL)')
  }
}
