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
  const outcome = await Promise.race([app.close().then(() => 'drained' as const), forced])
  clearTimeout(timer)
  if (outcome === 'forced') await app.close()
  return outcome
}
