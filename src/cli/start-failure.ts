/**
 * Why a command could not start, as one line for a person: what failed and
 * what to do about it. Printed on stderr whatever the log level (a sidecar
 * at `log.level: silent` must not fail in silence) and never as a stack:
 * the stack of a taken port says nothing the sentence does not.
 */

/** Where each port the command listens on came from: "--port", "server.port", "the demo's default". */
export type PortSources = ReadonlyMap<number, string>

interface SystemError extends Error {
  readonly code?: unknown
  readonly syscall?: unknown
  readonly address?: unknown
  readonly port?: unknown
  readonly hostname?: unknown
}

/**
 * @param err what the start threw
 * @param ports where each port came from, to name it in the line
 * @param change how the user picks another port for this command, e.g. "--port N or server.port"
 */
export function describeStartFailure (err: unknown, ports: PortSources, change: string): string {
  const e = (err instanceof Error ? err : new Error(String(err))) as SystemError
  const code = typeof e.code === 'string' ? e.code : undefined
  if (e.syscall === 'listen' || e.syscall === 'bind') {
    const port = typeof e.port === 'number' ? e.port : undefined
    const from = port === undefined ? undefined : ports.get(port)
    const where = `${String(e.address ?? 'the address')}${port === undefined ? '' : `:${port}`}${from === undefined ? '' : ` (from ${from})`}`
    switch (code) {
      case 'EADDRINUSE':
        return `cannot listen on ${where}: the port is in use; stop what holds it, or choose another port (${change}; 0 = any free port)`
      case 'EACCES':
        return `cannot listen on ${where}: permission denied (ports below 1024 need privileges); choose a port above 1023 (${change})`
      case 'EADDRNOTAVAIL':
        return `cannot listen on ${where}: this machine has no such address; check server.host`
      default:
        return `cannot listen on ${where}: ${e.message}`
    }
  }
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
    return `cannot listen on ${String(e.hostname ?? 'server.host')}: the name does not resolve; check server.host`
  }
  // tollgate's own errors (TG_*) name the problem and the fix in their message.
  const message = firstLine(e.message)
  return code?.startsWith('TG_') === true ? `cannot start: ${code}: ${message}` : `cannot start: ${message}`
}

function firstLine (text: string): string {
  return text.split('\n')[0] ?? ''
}
