/**
 * Tools for the hostile-input and slow-peer tests: byte-exact exchanges on a
 * node:net socket that report how the server ended them, a reader for the
 * responses that came back, the ways an origin might read a path it is sent,
 * loopback TCP peers that count their sockets, and polling with a deadline.
 */
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { connect, createServer, type AddressInfo, type Socket } from 'node:net'
import type { TestContext } from 'node:test'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { startOrigin, type Origin } from './origin.js'
import { startSidecar } from './sidecar.js'

export interface Exchange {
  /** Everything the server wrote, latin1. */
  readonly raw: string
  /** Every response found in `raw`, in order (1xx included). */
  readonly responses: readonly ParsedResponse[]
  /** The first final (non-1xx) response, if any. */
  readonly final: ParsedResponse | undefined
  /** How it ended: the server closed the connection, reset it, or we gave up at `deadlineMs`. */
  readonly ended: 'closed' | 'reset' | 'timeout'
  /** ms from connect to the end. */
  readonly elapsedMs: number
}

export interface ParsedResponse {
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  readonly body: string
  /** false when the connection ended before the body its framing announced. */
  readonly complete: boolean
}

export interface ExchangeOptions {
  /** Give up (and destroy the socket) after this long; default 4000. */
  readonly deadlineMs?: number
  /**
   * Half-close our side when nothing has come back this long after the last
   * write: a server still waiting for body bytes we never meant to send then
   * ends the exchange at once instead of at its body timeout. Off by default.
   */
  readonly endAfterMs?: number
  /** Pause between the parts of `data`, for slow clients. */
  readonly gapMs?: number
}

/** Writes `data` (parts written `gapMs` apart) and reads until the server closes. */
export async function exchange (port: number, data: string | Buffer | ReadonlyArray<string | Buffer>, options: ExchangeOptions = {}): Promise<Exchange> {
  const parts = (Array.isArray(data) ? data : [data]).map((part: string | Buffer) => typeof part === 'string' ? Buffer.from(part, 'latin1') : part)
  const { deadlineMs = 4000, endAfterMs, gapMs = 0 } = options
  const started = performance.now()
  return await new Promise<Exchange>((resolve) => {
    const chunks: Buffer[] = []
    let ended: Exchange['ended'] = 'closed'
    let idle: NodeJS.Timeout | undefined
    let next: NodeJS.Timeout | undefined
    const socket = connect(port, '127.0.0.1')
    const armIdle = (): void => {
      if (endAfterMs === undefined) return
      clearTimeout(idle)
      idle = setTimeout(() => { if (chunks.length === 0 && socket.writable) socket.end() }, endAfterMs)
    }
    const writeNext = (index: number): void => {
      if (index >= parts.length || socket.destroyed || !socket.writable) return
      socket.write(parts[index] as Buffer, () => armIdle())
      if (index + 1 < parts.length) next = setTimeout(() => writeNext(index + 1), gapMs)
    }
    socket.on('connect', () => writeNext(0))
    const deadline = setTimeout(() => { ended = 'timeout'; socket.destroy() }, deadlineMs)
    socket.on('data', (chunk: Buffer) => { chunks.push(chunk); clearTimeout(idle) })
    socket.on('error', (err: NodeJS.ErrnoException) => { if (ended !== 'timeout') ended = err.code === 'ECONNRESET' || err.code === 'EPIPE' ? 'reset' : 'closed' })
    socket.on('close', () => {
      clearTimeout(deadline)
      clearTimeout(idle)
      clearTimeout(next)
      const raw = Buffer.concat(chunks).toString('latin1')
      const responses = parseResponses(raw)
      resolve({ raw, responses, final: responses.find((r) => r.status >= 200), ended, elapsedMs: performance.now() - started })
    })
  })
}

/** Reads consecutive HTTP/1.x responses (content-length, chunked, or up to the close). */
export function parseResponses (raw: string): ParsedResponse[] {
  const out: ParsedResponse[] = []
  let rest = raw
  while (rest.startsWith('HTTP/')) {
    const headEnd = rest.indexOf('\r\n\r\n')
    if (headEnd === -1) break
    const [statusLine = '', ...lines] = rest.slice(0, headEnd).split('\r\n')
    const status = Number(statusLine.split(' ')[1])
    const headers: Record<string, string> = {}
    for (const line of lines) {
      const colon = line.indexOf(':')
      if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim()
    }
    rest = rest.slice(headEnd + 4)
    if (status < 200 || status === 204 || status === 304) {
      out.push({ status, headers, body: '', complete: true })
      continue
    }
    if (headers['transfer-encoding']?.toLowerCase() === 'chunked') {
      const { body, used, complete } = dechunk(rest)
      out.push({ status, headers, body, complete })
      rest = rest.slice(used)
    } else if (headers['content-length'] !== undefined) {
      const length = Number(headers['content-length'])
      out.push({ status, headers, body: rest.slice(0, length), complete: rest.length >= length })
      rest = rest.slice(length)
    } else {
      out.push({ status, headers, body: rest, complete: true })
      rest = ''
    }
  }
  return out
}

function dechunk (text: string): { body: string, used: number, complete: boolean } {
  let body = ''
  let at = 0
  for (;;) {
    const lineEnd = text.indexOf('\r\n', at)
    if (lineEnd === -1) return { body, used: text.length, complete: false }
    const size = parseInt(text.slice(at, lineEnd), 16)
    if (!Number.isFinite(size)) return { body, used: text.length, complete: false }
    if (size === 0) {
      const end = text.indexOf('\r\n\r\n', lineEnd)
      return end === -1 ? { body, used: text.length, complete: false } : { body, used: end + 4, complete: true }
    }
    if (text.length < lineEnd + 2 + size) return { body: body + text.slice(lineEnd + 2), used: text.length, complete: false }
    body += text.slice(lineEnd + 2, lineEnd + 2 + size)
    at = lineEnd + 2 + size + 2
  }
}

/** RFC 3986 §5.2.4 remove_dot_segments, literally. */
export function removeDotSegments (path: string): string {
  let input = path
  let output = ''
  while (input.length > 0) {
    if (input.startsWith('../')) input = input.slice(3)
    else if (input.startsWith('./')) input = input.slice(2)
    else if (input.startsWith('/./')) input = input.slice(2)
    else if (input === '/.') input = '/'
    else if (input.startsWith('/../') || input === '/..') {
      input = input === '/..' ? '/' : input.slice(3)
      const last = output.lastIndexOf('/')
      output = last === -1 ? '' : output.slice(0, last)
    } else if (input === '.' || input === '..') {
      input = ''
    } else {
      const next = input.indexOf('/', 1)
      const segment = next === -1 ? input : input.slice(0, next)
      output += segment
      input = next === -1 ? '' : input.slice(next)
    }
  }
  return output
}

/** Percent-decodes once, byte-wise (latin1), leaving malformed escapes as they are. */
export function percentDecode (text: string): string {
  return text.replace(/%([0-9a-fA-F]{2})/g, (_match, hex: string) => String.fromCharCode(parseInt(hex, 16)))
}

/**
 * The paths an origin might act on when sent `path` (no query): as sent;
 * percent-decoded once (`%2f` a slash, `%2e` a dot); with backslashes as
 * slashes (IIS, some Windows servers); with `;params` cut from each segment
 * (Tomcat, Spring). Each is then resolved by RFC 3986 §5.2.4.
 */
export function originReadings (path: string): string[] {
  const decoded = percentDecode(path)
  const variants = [path, decoded, decoded.replace(/\\/g, '/'), decoded.replace(/\\/g, '/').split('/').map((segment) => segment.replace(/;.*$/, '')).join('/')]
  return variants.map((variant) => removeDotSegments(variant.startsWith('/') ? variant : `/${variant}`))
}

/** Whether `path` is `base` or below it ('' is the root: everything is below it). */
export function isUnder (path: string, base: string): boolean {
  return base === '' || path === base || path.startsWith(`${base}/`)
}

/** The path part of a request target (everything before `?`). */
export function pathPart (target: string): string {
  const query = target.indexOf('?')
  return query === -1 ? target : target.slice(0, query)
}

export interface TcpPeer {
  readonly port: number
  readonly url: string
  /** Sockets open right now. */
  readonly open: Set<Socket>
  /** Connections accepted so far. */
  accepted: number
  close (): Promise<void>
}

/** A loopback TCP server that speaks whatever `onSocket` writes, and counts its sockets. */
export async function startTcpPeer (t: TestContext | undefined, onSocket: (socket: Socket) => void): Promise<TcpPeer> {
  const open = new Set<Socket>()
  const server = createServer((socket) => {
    peer.accepted++
    open.add(socket)
    socket.on('close', () => open.delete(socket))
    socket.on('error', () => {})
    onSocket(socket)
    // A socket nobody reads never sees the peer's FIN, and would look open for good.
    if (socket.listenerCount('data') === 0) socket.resume()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  let closed: Promise<void> | undefined
  const peer: TcpPeer = {
    port,
    url: `http://127.0.0.1:${port}`,
    open,
    accepted: 0,
    close () {
      closed ??= new Promise((resolve) => {
        for (const socket of open) socket.destroy()
        server.close(() => resolve())
      })
      return closed
    }
  }
  t?.after(() => peer.close())
  return peer
}

export interface CountedOrigin {
  readonly url: string
  /** Path and query, body length, and whether the request body ended ('aborted' when the sidecar gave up on it). */
  readonly requests: Array<{ url: string, bodyLength: number, ended: 'complete' | 'aborted' | 'open' }>
  /** Connections open right now. */
  connections (): Promise<number>
  close (): Promise<void>
}

/**
 * An HTTP origin that counts its connections (origin.ts does not expose its
 * server). The default handler reads the body and answers 200 with its length.
 */
export async function startCountedOrigin (t: TestContext | undefined, handler?: (req: IncomingMessage, res: ServerResponse) => void): Promise<CountedOrigin> {
  const requests: CountedOrigin['requests'] = []
  const server = createHttpServer((req, res) => {
    const entry: CountedOrigin['requests'][number] = { url: req.url ?? '', bodyLength: 0, ended: 'open' }
    requests.push(entry)
    req.on('data', (chunk: Buffer) => { entry.bodyLength += chunk.length })
    req.on('end', () => { entry.ended = 'complete' })
    req.on('aborted', () => { entry.ended = 'aborted' })
    req.on('error', () => { if (entry.ended === 'open') entry.ended = 'aborted' })
    if (handler !== undefined) {
      handler(req, res)
      return
    }
    req.on('end', () => res.end(JSON.stringify({ url: entry.url, bodyLength: entry.bodyLength })))
  })
  // Like a vendor: connections stay open well past undici's 2 s keep-alive threshold, so tests reuse them.
  server.keepAliveTimeout = 10_000
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  let closed: Promise<void> | undefined
  const origin: CountedOrigin = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    connections: async () => await connectionsOf(server),
    close () {
      closed ??= new Promise((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      })
      return closed
    }
  }
  t?.after(() => origin.close())
  return origin
}

/** Open connections of a node:net / node:http server. */
export async function connectionsOf (server: { getConnections (callback: (err: Error | null, count: number) => void): unknown }): Promise<number> {
  return await new Promise((resolve, reject) => server.getConnections((err, count) => err === null ? resolve(count) : reject(err)))
}

/**
 * Polls `check` every `intervalMs` until it holds or `timeoutMs` passes;
 * resolves with its last answer. For state that settles a few ticks after
 * the event a test can see (a socket close, a released permit).
 */
export async function eventually (check: () => boolean | Promise<boolean>, timeoutMs = 2000, intervalMs = 10): Promise<boolean> {
  const deadline = performance.now() + timeoutMs
  for (;;) {
    if (await check()) return true
    if (performance.now() >= deadline) return false
    await new Promise((resolve) => setTimeout(resolve, intervalMs))
  }
}

/** A full garbage collection, without --expose-gc on the command line. */
export function collectGarbage (): void {
  setFlagsFromString('--expose-gc')
  const gc = runInNewContext('gc') as () => void
  gc()
  gc()
}

/**
 * The sidecar the hostile-input tests attack: upstream `/a` → origin A under
 * base path `/base`, `/b` → origin B, and origin C, which no config names (it
 * must never see a request).
 */
export interface HostileRig {
  readonly port: number
  readonly url: string
  readonly a: Origin
  readonly b: Origin
  readonly c: Origin
}

export const HOSTILE_BASE = '/base'

export async function startHostileRig (t: TestContext, server: Record<string, unknown> = {}): Promise<HostileRig> {
  const [a, b, c] = await Promise.all([startOrigin(t), startOrigin(t), startOrigin(t)])
  const sidecar = await startSidecar(t, {
    log: { level: 'warn' },
    server,
    upstreams: { a: { target: `${a.url}${HOSTILE_BASE}` }, b: { target: b.url } }
  })
  return { port: Number(new URL(sidecar.url).port), url: sidecar.url, a, b, c }
}
