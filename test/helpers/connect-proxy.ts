/**
 * A tiny forward proxy on loopback, the kind a corporate network puts in
 * front of the internet: CONNECT tunnels (https targets) and absolute-form
 * requests (plain http targets). It resolves every host name to 127.0.0.1,
 * so tests can use names the sidecar itself cannot resolve, records what it
 * proxied, and with `credentials` demands Basic Proxy-Authorization (407).
 */
import { createServer, request as httpRequest, type IncomingMessage } from 'node:http'
import { connect, type AddressInfo, type Socket } from 'node:net'
import type { TestContext } from 'node:test'

export interface ProxiedRequest {
  /** CONNECT for a tunnel, else the method of an absolute-form request. */
  readonly method: string
  /** `host:port` for CONNECT, the absolute URL otherwise. */
  readonly target: string
  /** The Proxy-Authorization header as received. */
  readonly authorization: string | undefined
  /** Whether the proxy let it through. */
  readonly allowed: boolean
}

export interface ConnectProxy {
  /** `http://127.0.0.1:PORT` (no credentials). */
  readonly url: string
  /** `http://user:pass@127.0.0.1:PORT` when credentials were given. */
  readonly urlWithCredentials: string
  readonly requests: ProxiedRequest[]
}

export interface ConnectProxyOptions {
  /** `user:password`: then every request must carry them as Basic Proxy-Authorization. */
  readonly credentials?: string
}

export async function startConnectProxy (t: TestContext, options: ConnectProxyOptions = {}): Promise<ConnectProxy> {
  const requests: ProxiedRequest[] = []
  const tunnels = new Set<Socket>()
  const expected = options.credentials === undefined ? undefined : `Basic ${Buffer.from(options.credentials).toString('base64')}`
  const authorized = (req: IncomingMessage): boolean => expected === undefined || req.headers['proxy-authorization'] === expected
  const record = (req: IncomingMessage, allowed: boolean): void => {
    requests.push({ method: req.method ?? '', target: req.url ?? '', authorization: req.headers['proxy-authorization'], allowed })
  }

  const server = createServer((req, res) => {
    const allowed = authorized(req)
    record(req, allowed)
    if (!allowed) {
      res.writeHead(407, { 'proxy-authenticate': 'Basic realm="test proxy"', 'content-length': '0' }).end()
      return
    }
    const target = new URL(req.url ?? '')
    const headers = { ...req.headers }
    delete headers['proxy-authorization']
    delete headers['proxy-connection']
    const forwarded = httpRequest({ host: '127.0.0.1', port: target.port || 80, method: req.method, path: target.pathname + target.search, headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers)
      answer.pipe(res)
    })
    forwarded.on('error', () => { res.destroy() })
    req.pipe(forwarded)
  })

  server.on('connect', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    tunnels.add(socket)
    socket.on('close', () => tunnels.delete(socket))
    socket.on('error', () => socket.destroy())
    const allowed = authorized(req)
    record(req, allowed)
    if (!allowed) {
      socket.end('HTTP/1.1 407 Proxy Authentication Required\r\nproxy-authenticate: Basic realm="test proxy"\r\ncontent-length: 0\r\n\r\n')
      return
    }
    const port = Number((req.url ?? '').slice((req.url ?? '').lastIndexOf(':') + 1))
    const upstream = connect(port, '127.0.0.1', () => {
      socket.write('HTTP/1.1 200 Connection Established\r\n\r\n')
      upstream.write(head)
      upstream.pipe(socket)
      socket.pipe(upstream)
    })
    tunnels.add(upstream)
    upstream.on('close', () => { tunnels.delete(upstream); socket.destroy() })
    upstream.on('error', () => { socket.destroy() })
    socket.on('close', () => upstream.destroy())
  })

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  t.after(() => new Promise<void>((resolve) => {
    for (const socket of tunnels) socket.destroy()
    server.closeAllConnections()
    server.close(() => resolve())
  }))
  const [user = '', password = ''] = (options.credentials ?? '').split(/:(.*)/)
  const credentials = options.credentials === undefined ? '' : `${encodeURIComponent(user)}:${encodeURIComponent(password)}@`
  return { url: `http://127.0.0.1:${port}`, urlWithCredentials: `http://${credentials}127.0.0.1:${port}`, requests }
}
