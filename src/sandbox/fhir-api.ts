/**
 * A FHIR R4 REST API with its state in memory, as the sandbox's FHIR vendors
 * (Halaxy, Redox) serve it below their own base: search `GET {type}` with
 * `_count` and absolute `self` / `first` / `next` / `previous` links, read
 * `GET {type}/{id}`, vread `GET {type}/{id}/_history/{vid}`, and create
 * `POST {type}` answering 201 with an absolute `Location`. Every URL it
 * hands out is absolute under the vendor's base, as FHIR servers answer.
 * @see https://hl7.org/fhir/R4/http.html
 */
import { randomUUID } from 'node:crypto'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { DEFAULT_COUNT, FHIR_JSON, MAX_COUNT, PATIENTS, operationOutcome, searchBundle, type Resource } from './fhir-resources.js'
import { resourceHandler, type ResourceGate, type ResourceHandler } from './resource-route.js'
import type { VendorContext } from './vendor-context.js'

export interface FhirApiOptions {
  /** The route path of the base, below the vendor's prefix; it may hold parameters (`/fhir/R4/:organization/:environment`). */
  readonly root: string
  /** The base as an absolute URL, for the request that reached it. */
  readonly base: (request: FastifyRequest) => string
  /** Runs after authentication, before each handler (Halaxy's rate limit). */
  readonly gate?: ResourceGate
  /** Answers a path whose type segment is no resource type (`metadata`, `_search`, ...). */
  readonly notModelled: ResourceHandler
}

/** A FHIR resource type name (R4: an upper-case letter, then letters). */
const RESOURCE_TYPE = /^[A-Z][A-Za-z]{1,63}$/
/** Resources created beyond the seed, across types: the sandbox's memory stays bounded. */
const MAX_STORED = 10_000

/** Registers the routes; `reset` forgets every created resource and seeds the Patients again. */
export function registerFhirApi (app: FastifyInstance, ctx: VendorContext, options: FhirApiOptions): { reset: () => void } {
  const { root, base, gate, notModelled } = options
  const store = new Map<string, Map<string, Resource>>()
  let stored = 0
  const seed = (): void => {
    store.clear()
    store.set('Patient', new Map(PATIENTS.map((patient): [string, Resource] => [patient.id, { ...patient }])))
    stored = PATIENTS.length
  }
  seed()

  /** A route whose `:type` segment must name a resource type. */
  const typed = (handler: ResourceHandler) => resourceHandler(ctx, (request, reply, token) => {
    const { type } = request.params as { type: string }
    return RESOURCE_TYPE.test(type) ? handler(request, reply, token) : notModelled(request, reply, token)
  }, gate)

  app.get(`${root}/:type`, typed((request, reply) => {
    const { type } = request.params as { type: string }
    const query = request.query as Record<string, string | undefined>
    const count = Math.min(MAX_COUNT, positive(query._count) ?? DEFAULT_COUNT)
    const page = positive(query.page) ?? 1
    return fhirReply(reply, 200, searchBundle(type, [...(store.get(type)?.values() ?? [])], base(request), count, page))
  }))

  app.get(`${root}/:type/:id`, typed((request, reply) => {
    const { type, id } = request.params as { type: string, id: string }
    const resource = store.get(type)?.get(id)
    return resource === undefined
      ? fhirReply(reply, 404, operationOutcome('not-found', `${type}/${id} is not known`))
      : fhirReply(reply, 200, resource)
  }))

  // vread: the Location a create answers with names version 1, the only version the sandbox keeps.
  app.get(`${root}/:type/:id/_history/:version`, typed((request, reply) => {
    const { type, id, version } = request.params as { type: string, id: string, version: string }
    const resource = store.get(type)?.get(id)
    const current = (resource?.meta as { versionId?: string } | undefined)?.versionId ?? '1'
    return resource === undefined || version !== current
      ? fhirReply(reply, 404, operationOutcome('not-found', `${type}/${id}/_history/${version} is not known`))
      : fhirReply(reply, 200, resource)
  }))

  app.post(`${root}/:type`, typed((request, reply) => {
    const { type } = request.params as { type: string }
    const body = parseResource(request.body)
    if (body === undefined || body.resourceType !== type) {
      return fhirReply(reply, 400, operationOutcome('invalid', `the body must be a FHIR JSON ${type} resource`))
    }
    if (stored >= PATIENTS.length + MAX_STORED) {
      return fhirReply(reply, 422, operationOutcome('too-costly', `the sandbox keeps at most ${MAX_STORED} created resources; reset it (admin)`))
    }
    const id = randomUUID()
    const resource: Resource = { ...body, id, meta: { versionId: '1', lastUpdated: new Date(ctx.now()).toISOString() } }
    let resources = store.get(type)
    if (resources === undefined) store.set(type, resources = new Map())
    resources.set(id, resource)
    stored++
    // FHIR R4 §3.1.0.8.1 (create): "Location header which contains the new Logical Id and Version Id".
    reply.header('location', `${base(request)}/${type}/${id}/_history/1`).header('etag', 'W/"1"')
    return fhirReply(reply, 201, resource)
  }))

  return { reset: seed }
}

export function fhirReply (reply: FastifyReply, status: number, body: object): FastifyReply {
  return reply.code(status).type(FHIR_JSON).send(body)
}

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
