/**
 * SIGTERM / SIGINT: stop accepting, let in-flight requests finish within
 * `server.shutdownGrace`, then close what is left and resolve.
 * SIGHUP reloads the sidecar's config (ops/reload.ts); the demo and the
 * sandbox ignore it (below).
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

/**
 * A sidecar's stop, with the same two lines wherever it runs (`tollgate
 * --config`, the demo): "shutting down" with the signal and the grace, then
 * "stopped" with whether every request finished ("drained") or was cut
 * ("forced").
 */
export async function shutDown (sidecar: Sidecar, signal: NodeJS.Signals): Promise<'drained' | 'forced'> {
  const graceMs = sidecar.config.server.shutdownGraceMs
  sidecar.logger.info({ signal, graceMs }, 'shutting down')
  const outcome = await drain(sidecar, graceMs)
  sidecar.logger.info({ outcome }, 'stopped')
  sidecar.logger.flush()
  return outcome
}

/**
 * The demo and `tollgate sandbox` have no config file to read again: a
 * SIGHUP (a `kill -HUP`, a terminal closing) must not end them, which is
 * node's default. One info line each, through `say`. Returns the function
 * that removes the handler.
 */
export function ignoreSighup (say: (line: string) => void, what: string): () => void {
  const handler = (): void => { say(`SIGHUP ignored: ${what} has no config file to reload`) }
  process.on('SIGHUP', handler)
  return () => { process.off('SIGHUP', handler) }
}
