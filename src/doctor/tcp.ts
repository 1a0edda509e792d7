/**
 * The `tcp` step: a connection to the first address that takes one, tried
 * in the order the lookup gave them. The socket is handed on (to the proxy
 * or TLS step), so each later step runs on the connection this one made.
 */
import type { LookupAddress } from 'node:dns'
import { connect, type Socket } from 'node:net'
import { fail, ok, type StepOutcome } from './step.js'

export interface Connected {
  readonly outcome: StepOutcome
  /** Open when the step passed; the caller destroys it. */
  readonly socket: Socket | undefined
}

/** What a refused or lost connection means, in words (node:net error codes). */
const CONNECT_ERRORS: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'connection refused: nothing listens there, or a firewall rejects it',
  ECONNRESET: 'connection reset',
  EHOSTUNREACH: 'no route to the host',
  ENETUNREACH: 'the network is unreachable (no route; IPv6 without IPv6 connectivity?)',
  EADDRNOTAVAIL: 'no local address can reach it',
  EACCES: 'not permitted by this machine (a local firewall?)',
  EPERM: 'not permitted by this machine (a local firewall?)'
}

export async function connectTcp (addresses: readonly LookupAddress[], port: number, options: { timeoutMs: number, hint?: string }): Promise<Connected> {
  const failures: string[] = []
  // A proxy is a likely cure only where the network drops or cannot route the connection; a refusal comes from the host itself.
  let blocked = false
  for (const { address, family } of addresses) {
    const where = family === 6 ? `[${address}]:${port}` : `${address}:${port}`
    const started = performance.now()
    try {
      const socket = await open(address, port, options.timeoutMs)
      const ms = Math.round(performance.now() - started)
      const others = failures.length === 0 ? '' : ` (${failures.join('; ')})`
      return { outcome: ok(`${where} connected in ${ms} ms${others}`), socket }
    } catch (err) {
      failures.push(`${where}: ${describe(err, options.timeoutMs)}`)
      blocked ||= err instanceof ConnectTimeout || ['EHOSTUNREACH', 'ENETUNREACH', 'EACCES', 'EPERM'].includes((err as NodeJS.ErrnoException).code ?? '')
    }
  }
  const hint = options.hint === undefined || !blocked ? '' : `; ${options.hint}`
  return { outcome: fail(`${failures.join('; ')}${hint}`), socket: undefined }
}

function describe (err: unknown, timeoutMs: number): string {
  if (err instanceof ConnectTimeout) return `no answer within ${timeoutMs} ms (a firewall drops it?)`
  const code = (err as NodeJS.ErrnoException).code
  const words = code === undefined ? undefined : CONNECT_ERRORS[code]
  return `${words ?? 'connection failed'}${code === undefined ? '' : ` (${code})`}`
}

class ConnectTimeout extends Error {}

function open (host: string, port: number, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port })
    const timer = setTimeout(() => {
      socket.destroy()
      reject(new ConnectTimeout())
    }, timeoutMs)
    socket.once('connect', () => {
      clearTimeout(timer)
      socket.removeAllListeners('error')
      // Errors after this are the later steps' to report; one listener keeps them from being unhandled.
      socket.on('error', () => {})
      resolve(socket)
    })
    socket.once('error', (err) => {
      clearTimeout(timer)
      socket.destroy()
      reject(err)
    })
  })
}
