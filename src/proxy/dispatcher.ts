/**
 * Each upstream gets its own undici pool, so one slow vendor cannot hold
 * connections another needs (no cross-vendor head-of-line blocking), and no
 * pipelining (fastify-http-proxy#104).
 */
import { Agent, Pool, type Dispatcher } from 'undici'
import type { UpstreamConfig } from '../config/types.js'
import { headersDeadline } from './deadline.js'

/** Keep-alive connections per upstream; beyond this, requests wait inside undici. */
export const MAX_CONNECTIONS_PER_UPSTREAM = 128

export function createUpstreamDispatcher (upstream: UpstreamConfig): Dispatcher {
  const pool = new Pool(new URL(upstream.target).origin, {
    connections: Math.min(upstream.rateLimit?.maxConcurrent ?? Infinity, MAX_CONNECTIONS_PER_UPSTREAM),
    pipelining: 1,
    keepAliveTimeout: 4_000,
    connect: { ...tlsOptions(upstream), timeout: Math.min(upstream.timeoutMs, 10_000) }
  })
  return pool.compose(headersDeadline(upstream.timeoutMs))
}

/** The token endpoint may live on another origin: an agent with the same TLS settings, or undici's global one. */
export function createTokenDispatcher (upstream: UpstreamConfig): Dispatcher | undefined {
  if (upstream.tls === undefined) return undefined
  return new Agent({ connect: tlsOptions(upstream) })
}

function tlsOptions (upstream: UpstreamConfig): Record<string, string> {
  const tls = upstream.tls
  if (tls === undefined) return {}
  return {
    ...(tls.ca === undefined ? {} : { ca: tls.ca }),
    ...(tls.cert === undefined ? {} : { cert: tls.cert }),
    ...(tls.key === undefined ? {} : { key: tls.key }),
    ...(tls.minVersion === undefined ? {} : { minVersion: tls.minVersion })
  }
}
