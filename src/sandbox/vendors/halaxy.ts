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
import { randomUUID } from 'node:crypto'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { VendorLayout } from '../layout.js'
import type { ResolvedHalaxy } from '../options.js'
import { resourceHandler, type ResourceGate } from '../resource-route.js'
import { SlidingWindow } from '../sliding-window.js'
import { authenticateWithSecret } from '../client-secret.js'
import { registerTokenEndpoint } from '../token-endpoint.js'
import { readTokenRequest } from '../token-request.js'
import { issueToken, requestOrigin, type VendorContext } from '../vendor-context.js'
import { DEFAULT_COUNT, FHIR_JSON, MAX_COUNT, PATIENTS, operationOutcome, searchBundle, type Resource } from './halaxy-fhir.js'

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
  const base = (request: FastifyRequest): string => `${requestOrigin(request)}${ctx.prefix}${paths.target}`

  // The FHIR API, state in memory: search with _count and next/previous
  // links, read by id, create (POST) answering 201 with an absolute Location.
  const store = new Map<string, Map<string, Resource>>()
  const seed = (): void => {
    store.clear()
    store.set('Patient', new Map(PATIENTS.map((patient): [string, Resource] => [patient.id, { ...patient }])))
  }
  seed()
  let stored = PATIENTS.length

  app.get(`${paths.target}/:type`, resourceHandler(ctx, (request, reply) => {
    const { type } = request.params as { type: string }
    if (!RESOURCE_TYPE.test(type)) return notModelled(request, reply)
    const query = request.query as Record<string, string | undefined>
    const count = Math.min(MAX_COUNT, positive(query._count) ?? DEFAULT_COUNT)
    const page = positive(query.page) ?? 1
    return fhir(reply, 200, searchBundle(type, [...(store.get(type)?.values() ?? [])], base(request), count, page))
  }, gate))

  app.get(`${paths.target}/:type/:id`, resourceHandler(ctx, (request, reply) => {
    const { type, id } = request.params as { type: string, id: string }
    if (!RESOURCE_TYPE.test(type)) return notModelled(request, reply)
    const resource = store.get(type)?.get(id)
    return resource === undefined
      ? fhir(reply, 404, operationOutcome('not-found', `${type}/${id} is not known`))
      : fhir(reply, 200, resource)
  }, gate))

  // vread: the Location a create answers with names version 1, the only version the sandbox keeps.
  app.get(`${paths.target}/:type/:id/_history/:version`, resourceHandler(ctx, (request, reply) => {
    const { type, id, version } = request.params as { type: string, id: string, version: string }
    if (!RESOURCE_TYPE.test(type)) return notModelled(request, reply)
    const resource = store.get(type)?.get(id)
    const current = (resource?.meta as { versionId?: string } | undefined)?.versionId ?? '1'
    return resource === undefined || version !== current
      ? fhir(reply, 404, operationOutcome('not-found', `${type}/${id}/_history/${version} is not known`))
      : fhir(reply, 200, resource)
  }, gate))

  app.post(`${paths.target}/:type`, resourceHandler(ctx, (request, reply) => {
    const { type } = request.params as { type: string }
    if (!RESOURCE_TYPE.test(type)) return notModelled(request, reply)
    const body = parseResource(request.body)
    if (body === undefined || body.resourceType !== type) {
      return fhir(reply, 400, operationOutcome('invalid', `the body must be a FHIR JSON ${type} resource`))
    }
    if (stored >= MAX_STORED) return fhir(reply, 422, operationOutcome('too-costly', `the sandbox keeps at most ${MAX_STORED} resources; reset it (admin)`))
    const id = randomUUID()
    const resource: Resource = { ...body, id, meta: { versionId: '1', lastUpdated: new Date(ctx.now()).toISOString() } }
    let resources = store.get(type)
    if (resources === undefined) store.set(type, resources = new Map())
    resources.set(id, resource)
    stored++
    // FHIR R4 §3.1.0.8.1 (create): "Location header which contains the new Logical Id and Version Id".
    reply.header('location', `${base(request)}/${type}/${id}/_history/1`).header('etag', 'W/"1"')
    return fhir(reply, 201, resource)
  }, gate))

  // Everything else below /main is still authenticated and counted against the
  // limit, as any Halaxy API call would be, but not modelled.
  app.all(`${paths.target}/*`, resourceHandler(ctx, notModelled, gate))

  function notModelled (request: FastifyRequest, reply: FastifyReply): FastifyReply {
    return fhir(reply, 404, operationOutcome('not-supported', `the sandbox models only search, read, vread and create (GET {type}, GET {type}/{id}[/_history/{vid}], POST {type}), not ${request.method} ${request.url.slice(ctx.prefix.length)}`))
  }

  return {
    reset: () => {
      windows.clear()
      seed()
      stored = PATIENTS.length
    }
  }
}

/** A FHIR resource type name (R4: an upper-case letter, then letters). */
const RESOURCE_TYPE = /^[A-Z][A-Za-z]{1,63}$/
/** Resources created beyond the seed, across types: the sandbox's memory stays bounded. */
const MAX_STORED = 10_000

/** A positive integer query value, else undefined. */
function positive (value: string | undefined): number | undefined {
  const n = Number(value)
  return value !== undefined && Number.isInteger(n) && n > 0 ? n : undefined
}

/** The sandbox hands bodies over as buffers (server.ts): a JSON object with a resourceType, else undefined. */
function parseResource (body: unknown): Resource | undefined {
  if (!Buffer.isBuffer(body)) return undefined
  try {
    const parsed = JSON.parse(body.toString('utf8')) as unknown
    return parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) && typeof (parsed as { resourceType?: unknown }).resourceType === 'string'
      ? parsed as Resource
      : undefined
  } catch {
    return undefined
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
    fhir(reply.header('retry-after', String(seconds)), 429,
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

function fhir (reply: FastifyReply, status: number, body: object): FastifyReply {
  return reply.code(status).type(FHIR_JSON).send(body)
}
