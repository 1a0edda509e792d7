/**
 * Registers a vendor's token endpoint: POST only, counted, and answered
 * either with the vendor's token fields or an RFC 6749 §5.2 error. The
 * vendor supplies only the exchange itself.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { noStore, sendOAuthError, type OAuthError } from './oauth-error.js'
import type { VendorContext } from './vendor-context.js'

export type TokenOutcome =
  | { readonly ok: true, readonly body: Readonly<Record<string, unknown>> }
  | { readonly ok: false, readonly error: OAuthError }

export type TokenExchange = (request: FastifyRequest) => Promise<TokenOutcome>

export function registerTokenEndpoint (app: FastifyInstance, path: string, ctx: VendorContext, exchange: TokenExchange): void {
  app.all(path, async (request, reply) => {
    ctx.stats.tokenRequests++
    if (request.method !== 'POST') {
      // RFC 6749 §3.2: "The client MUST use the HTTP POST method when making access token requests."
      ctx.stats.tokenErrors++
      return noStore(reply).code(405).header('allow', 'POST')
        .send({ error: 'invalid_request', error_description: 'the token endpoint takes POST' })
    }
    const outcome = await exchange(request)
    if (!outcome.ok) {
      ctx.stats.tokenErrors++
      return sendOAuthError(reply, outcome.error)
    }
    ctx.stats.tokensIssued++
    return noStore(reply).code(200).send(outcome.body)
  })
}
