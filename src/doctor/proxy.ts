/**
 * The `proxy` step: through the connection the tcp step made to the proxy
 * (over TLS first for an https:// proxy), a CONNECT to the target's host and
 * port, as undici's ProxyAgent sends it, with the same Proxy-Authorization.
 * A plain http:// target is sent to the proxy in absolute form instead: no
 * tunnel, so nothing to test here beyond reaching the proxy; the token and
 * probe steps go through it.
 */
import type { Duplex } from 'node:stream'
import { connect as tlsConnect } from 'node:tls'
import { isIP, type Socket } from 'node:net'
import type { ProxyRoute } from '../egress/dispatcher.js'
import { describeEgressError } from '../egress/errors.js'
import { fail, ok, printable, type StepOutcome } from './step.js'

/** A proxy's answer head is a few hundred bytes; more is not a proxy. */
const MAX_HEAD_BYTES = 16 * 1024

export interface Tunnelled {
  readonly outcome: StepOutcome
  /** The tunnel, ready for TLS to the target; undefined when the step failed or no tunnel applies. */
  readonly stream: Duplex | undefined
}

export async function openTunnel (socket: Socket, route: ProxyRoute, target: URL, upstreamName: string, timeoutMs: number): Promise<Tunnelled> {
  const via = `${route.uri} (from ${proxySource(route, upstreamName)})`
  const authority = `${target.hostname}:${target.port || (target.protocol === 'https:' ? 443 : 80)}`
  if (target.protocol !== 'https:') {
    return { outcome: ok(`${target.protocol}//${authority} goes through ${via} in absolute form: no tunnel; the token and probe steps use it`), stream: undefined }
  }
  const started = performance.now()
  let stream: Duplex = socket
  if (route.uri.startsWith('https:')) {
    try {
      stream = await proxyTls(socket, new URL(route.uri).hostname, timeoutMs)
    } catch (err) {
      return { outcome: fail(`TLS to the proxy ${via}: ${describeEgressError(err) ?? codeOf(err)}`), stream: undefined }
    }
  }
  const auth = route.token === undefined ? '' : `proxy-authorization: ${route.token}\r\n`
  stream.write(`CONNECT ${authority} HTTP/1.1\r\nhost: ${authority}\r\n${auth}\r\n`)
  let head: Head
  try {
    head = await readHead(stream, timeoutMs)
  } catch (err) {
    return { outcome: fail(`CONNECT ${authority} through ${via}: ${err instanceof Error ? err.message : 'failed'}`), stream: undefined }
  }
  const ms = Math.round(performance.now() - started)
  if (head.status === 200) return { outcome: ok(`CONNECT ${authority} through ${via}: 200 in ${ms} ms`), stream }
  const reason = head.status === 407
    ? `407: the proxy wants credentials, or refused them (user:password in ${proxySource(route, upstreamName)})`
    : head.status === 403
      ? `403: the proxy does not allow ${authority} (ask for it to be allowed)`
      : `${head.status}${head.reason === '' ? '' : ` ${printable(head.reason, 60)}`}`
  return { outcome: fail(`CONNECT ${authority} through ${via}: ${reason}`), stream: undefined }
}

interface Head { readonly status: number, readonly reason: string }

/** Reads the answer's head; anything after it (there should be nothing: TLS's client speaks first) goes back. */
function readHead (stream: Duplex, timeoutMs: number): Promise<Head> {
  return new Promise((resolve, reject) => {
    let buffered = Buffer.alloc(0)
    const done = (err: Error | undefined, head?: Head): void => {
      clearTimeout(timer)
      stream.off('data', onData)
      stream.off('error', onError)
      stream.off('close', onClose)
      if (err !== undefined) reject(err)
      else resolve(head as Head)
    }
    const onData = (chunk: Buffer): void => {
      buffered = Buffer.concat([buffered, chunk])
      const end = buffered.indexOf('\r\n\r\n')
      if (end === -1) {
        if (buffered.length > MAX_HEAD_BYTES) done(new Error('the proxy answered something that is not HTTP'))
        return
      }
      stream.pause()
      const rest = buffered.subarray(end + 4)
      if (rest.length > 0) stream.unshift(rest)
      const status = /^HTTP\/1\.[01] (\d{3}) ?([^\r\n]*)/.exec(buffered.subarray(0, end).toString('latin1'))
      if (status === null) done(new Error('the proxy answered something that is not HTTP'))
      else done(undefined, { status: Number(status[1]), reason: status[2] ?? '' })
    }
    const onError = (err: NodeJS.ErrnoException): void => { done(new Error(`connection failed${err.code === undefined ? '' : ` (${err.code})`}`)) }
    const onClose = (): void => { done(new Error('the proxy closed the connection')) }
    const timer = setTimeout(() => { done(new Error(`no answer within ${timeoutMs} ms`)) }, timeoutMs)
    stream.on('data', onData)
    stream.on('error', onError)
    stream.on('close', onClose)
  })
}

/** TLS to an https:// proxy, with Node's default trust: undici is given no TLS options for the proxy itself. */
function proxyTls (socket: Socket, host: string, timeoutMs: number): Promise<Duplex> {
  const bare = host.replace(/^\[(.*)\]$/, '$1')
  return new Promise((resolve, reject) => {
    const secure = tlsConnect({ socket, host: bare, ...(isIP(bare) === 0 ? { servername: bare } : {}) })
    const timer = setTimeout(() => { secure.destroy(new Error('timeout')) }, timeoutMs)
    secure.once('secureConnect', () => { clearTimeout(timer); secure.removeAllListeners('error'); secure.on('error', () => {}); resolve(secure) })
    secure.once('error', (err) => { clearTimeout(timer); reject(err) })
  })
}

/** Where the proxy came from: the upstream's key, or the variable's name. */
export function proxySource (route: ProxyRoute, upstreamName: string): string {
  return route.source === 'proxy' ? `upstreams.${upstreamName}.proxy` : route.source
}

function codeOf (err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code
  return code === undefined ? 'handshake failed' : `handshake failed (${code})`
}
