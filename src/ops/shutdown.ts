/**
 * SIGTERM / SIGINT: stop accepting, let in-flight requests finish within
 * `server.shutdownGrace`, then close what is left and resolve.
 */
import type { Sidecar } from '../server.js'

export async function drain (sidecar: Sidecar, graceMs: number): Promise<'drained' | 'forced'> {
  const { app, lifecycle } = sidecar
  lifecycle.draining = true
  let timer: NodeJS.Timeout | undefined
  const forced = new Promise<'forced'>((resolve) => {
    timer = setTimeout(() => {
      // Grace is over: cut the connections that are still busy so close() can finish.
      app.server.closeAllConnections()
      resolve('forced')
    }, graceMs)
    timer.unref()
  })
  // A keep-alive connection whose last request ends during the drain would
  // otherwise stay open until the client or keepAliveTimeout closes it.
  const sweeper = setInterval(() => app.server.closeIdleConnections(), 50)
  const outcome = await Promise.race([app.close().then(() => 'drained' as const), forced])
  clearTimeout(timer)
  clearInterval(sweeper)
  if (outcome === 'forced') await app.close()
  return outcome
}
