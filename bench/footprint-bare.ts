/**
 * The bare proxy of bare-proxy.ts as the footprint scenario runs it: a plain
 * process, as `node dist/cli.js` is, with no IPC channel to the harness, on
 * the port it is given. SIGTERM closes it and exits normally, as tollgate
 * does, so Node writes its compile cache at exit for both alike.
 *
 *   node footprint-bare.js '{"upstream":"http://127.0.0.1:PORT","prefix":"/halaxy","port":N}'
 */
import type { IncomingHttpHeaders } from 'node:http'
import httpProxy from '@fastify/http-proxy'
import Fastify from 'fastify'
import { Pool } from 'undici'

const { upstream, prefix, port } = JSON.parse(process.argv[2] ?? '{}') as { upstream: string, prefix: string, port: number }

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
await app.listen({ host: '127.0.0.1', port })

process.once('SIGTERM', () => {
  app.close().then(async () => { await pool.destroy() }).finally(() => { process.exitCode = 0 })
})
