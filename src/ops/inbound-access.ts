/**
 * Who may use the sidecar when it listens beyond loopback: a CIDR allow list
 * and/or a shared token in `x-tollgate-token`. Installed only when configured.
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import { buildBlockList } from '../config/validate.js'
import type { ServerConfig } from '../config/types.js'
import { InboundDenied } from '../errors.js'
import { isProbe } from './health.js'

export function installInboundAccess (app: FastifyInstance, server: ServerConfig): void {
  if (server.allow.length === 0 && server.inboundToken === undefined) return
  const allowed = server.allow.length === 0 ? undefined : buildBlockList(server.allow)
  // Compared as digests: equal lengths always, so the comparison's time says nothing about the token's length.
  const token = server.inboundToken === undefined ? undefined : digest(server.inboundToken)
  app.addHook('onRequest', async function checkInbound (request) {
    if (isProbe(request.url)) return
    if (allowed !== undefined) {
      const address = request.socket.remoteAddress ?? ''
      const family = address.includes(':') ? 'ipv6' : 'ipv4'
      const plain = address.startsWith('::ffff:') ? address.slice(7) : address
      if (!allowed.check(plain, plain === address ? family : 'ipv4')) throw new InboundDenied()
    }
    if (token !== undefined) {
      const given = request.headers['x-tollgate-token']
      if (typeof given !== 'string' || !timingSafeEqual(digest(given), token)) throw new InboundDenied()
    }
  })
}

function digest (value: string): Buffer {
  return createHash('sha256').update(value).digest()
}
