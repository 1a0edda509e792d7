/**
 * The floor for any Fastify proxy: @fastify/http-proxy with one static
 * header rewrite, the same undici pool settings as tollgate's
 * (src/egress/dispatcher.ts: 128 connections, no pipelining, 4 s keep-alive),
 * and no logger. Everything tollgate does beyond this is its own cost.
 */
import type { AddressInfo } from 'node:net'
import type { IncomingHttpHeaders } from 'node:http'
import httpProxy from '@fastify/http-proxy'
import Fastify from 'fastify'
import { Pool } from 'undici'
import { announce, childArgument, serveParent } from './child-ipc.js'

const { upstream, prefix } = childArgument<{ upstream: string, prefix: string }>()

const pool = new Pool(upstream, { connections: 128, pipelining: 1, keepAliveTimeout: 4_000 })
const app = Fastify({ logger: false })
await app.register(httpProxy, {
  upstream,
  prefix,
  undici: pool as never,
  replyOptions: {
    rewriteRequestHeaders: (_request: unknown, headers: IncomingHttpHeaders) => ({ ...headers, authorization: 'Bearer static-bench-token' })
  }
})
await app.listen({ host: '127.0.0.1', port: 0 })

serveParent({
  /** User + system CPU µs so far (all threads of the process). */
  cpu: () => { const { user, system } = process.cpuUsage(); return user + system },
  mem: ({ gc }) => {
    if (gc === true) globalThis.gc?.()
    return process.memoryUsage()
  }
}, async () => {
  await app.close()
  await pool.destroy()
})

announce({ url: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}` })
