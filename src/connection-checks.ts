/**
 * Node enforces a server's slow-client limits (headersTimeout,
 * requestTimeout) by walking its open connections on an interval,
 * `connectionsCheckingInterval`, which it starts when the server listens and
 * keeps for the server's whole life: an idle sidecar woke every second with
 * nothing to check (docs/benchmarks.md, *Footprint*). This keeps Node's own
 * checker, at the same interval, but only while the server has a connection:
 * the first connection starts it, the last one to close stops it. A limit is
 * still enforced at most one interval late, as before.
 *
 * It drives the checker through what node:http's `_http_server` module
 * exports for node:https (setupConnectionsTracking, and the symbol under
 * which the interval is kept), present from Node 18.11 to 26. On a Node
 * without them nothing changes: the checker runs as Node runs it, ticking
 * but never unchecked.
 */
import type { Server } from 'node:http'
import { createRequire } from 'node:module'
import type { Socket } from 'node:net'

interface HttpServerModule {
  readonly setupConnectionsTracking?: (this: Server) => void
  readonly kConnectionsCheckingInterval?: symbol
}

/** Run `server`'s connection checker only while it has connections; false where this Node offers no way to. */
export function checkOnlyWhileConnected (server: Server): boolean {
  const http = createRequire(import.meta.url)('_http_server') as HttpServerModule
  const start = http.setupConnectionsTracking
  const key = http.kConnectionsCheckingInterval
  if (typeof start !== 'function' || typeof key !== 'symbol') return false
  const stop = (): void => { clearInterval((server as unknown as Record<symbol, NodeJS.Timeout | undefined>)[key]) }
  let open = 0
  // After Node's own `listening` listener, which started the checker.
  server.on('listening', () => { if (open === 0) stop() })
  server.on('connection', (socket: Socket) => {
    // Clears any interval still set before it starts one: a restart never leaves two.
    if (open++ === 0 && server.listening) start.call(server)
    socket.once('close', () => { if (--open === 0) stop() })
  })
  return true
}
