/**
 * What every sandbox vendor's routes share: its name (a preset name, also
 * its path prefix), the clock, the issued-token store and its counters.
 */
import { randomBytes } from 'node:crypto'
import type { FastifyRequest } from 'fastify'
import type { PresetName } from '../config/presets.js'
import type { ResolvedVendor } from './options.js'
import type { VendorStats } from './stats.js'
import type { TokenStore } from './token-store.js'

export interface VendorContext {
  readonly vendor: PresetName
  /** `/<vendor>`: where its routes are mounted. */
  readonly prefix: string
  readonly now: () => number
  readonly tokens: TokenStore
  readonly stats: VendorStats
  readonly lifetime: ResolvedVendor
}

export interface IssuedToken {
  readonly token: string
  /** Epoch ms. */
  readonly expiresAt: number
}

/**
 * Records a token for `clientId`, valid for the vendor's configured lifetime.
 * `mint` makes the token string from its expiry (HealthHero's are JWTs);
 * by default an opaque random one.
 */
export async function issueToken (
  ctx: VendorContext,
  clientId: string,
  mint: (issuedAt: number, expiresAt: number) => string | Promise<string> = () => randomBytes(32).toString('base64url')
): Promise<IssuedToken> {
  const issuedAt = ctx.now()
  const expiresAt = issuedAt + ctx.lifetime.tokenTtlSeconds * 1000
  const token = await mint(issuedAt, expiresAt)
  ctx.tokens.add(token, { vendor: ctx.vendor, clientId, issuedAt, expiresAt })
  return { token, expiresAt }
}

/**
 * The URL this request reached, without query: what a client had to use as
 * its token URL (Redox's assertion `aud`) or as an issuer. Taken from the
 * request, because one sandbox answers on 127.0.0.1, localhost or a
 * container name alike.
 */
export function requestUrl (request: FastifyRequest): string {
  const path = request.url.split('?')[0] ?? ''
  return `${request.protocol}://${request.host}${path}`
}

/** The origin this request reached, e.g. `http://127.0.0.1:4010`. */
export function requestOrigin (request: FastifyRequest): string {
  return `${request.protocol}://${request.host}`
}
