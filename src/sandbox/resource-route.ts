/**
 * Resource endpoints: the access token the vendor issued is required, and
 * anything else gets 401 as RFC 6750 §3 describes. A request without a
 * Bearer token gets a bare challenge (§3.1: "If the request lacks any
 * authentication information ... the resource server SHOULD NOT include an
 * error code"); an unknown, expired or revoked token gets
 * `error="invalid_token"` with a description saying which.
 */
import type { FastifyReply, FastifyRequest, RouteHandlerMethod } from 'fastify'
import { echoHeaders } from './echo.js'
import type { TokenRecord, TokenRejection } from './token-store.js'
import type { VendorContext } from './vendor-context.js'

/**
 * Runs after authentication, before the handler; returns false when it has
 * answered itself (Halaxy's rate limiter answering 429).
 */
export type ResourceGate = (request: FastifyRequest, reply: FastifyReply, token: TokenRecord) => boolean

export type ResourceHandler = (request: FastifyRequest, reply: FastifyReply, token: TokenRecord) => unknown

const REJECTIONS: Readonly<Record<TokenRejection, string>> = {
  unknown: 'the access token is not one this vendor issued',
  expired: 'the access token expired',
  revoked: 'the access token was revoked'
}

/** Wraps `handler` so it only runs with a valid token of this vendor. */
export function resourceHandler (ctx: VendorContext, handler: ResourceHandler, gate?: ResourceGate): RouteHandlerMethod {
  const realm = `realm="${ctx.vendor}"`
  return async function (request, reply) {
    ctx.stats.resourceRequests++
    echoHeaders(request, reply)
    const token = readBearer(request.headers.authorization)
    if (token === undefined) {
      ctx.stats.resourceUnauthorized++
      return reply.code(401).header('www-authenticate', `Bearer ${realm}`)
        .send({ error: 'unauthorized', error_description: 'a Bearer access token is required' })
    }
    const check = ctx.tokens.check(token, ctx.vendor)
    if (!check.ok) {
      ctx.stats.resourceUnauthorized++
      const description = REJECTIONS[check.reason]
      return reply.code(401).header('www-authenticate', `Bearer ${realm}, error="invalid_token", error_description="${description}"`)
        .send({ error: 'invalid_token', error_description: description })
    }
    if (gate !== undefined && !gate(request, reply, check.record)) return reply
    return handler(request, reply, check.record)
  }
}

/** RFC 6750 §2.1: `Authorization: Bearer <b64token>`; the scheme is case-insensitive. Another scheme is no token. */
function readBearer (header: string | undefined): string | undefined {
  const match = /^bearer[ \t]+([A-Za-z0-9\-._~+/]+=*)[ \t]*$/i.exec(header ?? '')
  return match?.[1]
}
