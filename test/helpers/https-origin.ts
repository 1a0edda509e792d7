/**
 * A loopback HTTPS vendor for the egress tests: `POST /token` answers a
 * client-credentials token, anything else echoes what arrived (method, url,
 * authorization, host, and the client certificate's CN under mTLS).
 */
import { createServer, type ServerOptions } from 'node:https'
import type { AddressInfo } from 'node:net'
import type { TestContext } from 'node:test'
import type { TLSSocket } from 'node:tls'

export interface HttpsOriginRequest {
  readonly method: string
  readonly url: string
  readonly authorization: string | undefined
  /** The client certificate's subject CN, when one was presented. */
  readonly clientCn: string | undefined
}

export interface HttpsOrigin {
  readonly port: number
  /** `https://${host}:${port}` */
  url (host?: string): string
  readonly requests: HttpsOriginRequest[]
  /** Handshakes the server saw fail (e.g. a client that does not trust it, or no client certificate). */
  readonly tlsErrors: string[]
}

export const ORIGIN_TOKEN = 'egress-access-token-7c1d'

export async function startHttpsOrigin (t: TestContext, options: ServerOptions): Promise<HttpsOrigin> {
  const requests: HttpsOriginRequest[] = []
  const tlsErrors: string[] = []
  const server = createServer(options, (req, res) => {
    const peer = (req.socket as TLSSocket).getPeerCertificate()
    const recorded = {
      method: req.method ?? '',
      url: req.url ?? '',
      authorization: req.headers.authorization,
      clientCn: typeof peer?.subject?.CN === 'string' ? peer.subject.CN : undefined
    }
    requests.push(recorded)
    req.resume()
    req.on('end', () => {
      res.setHeader('content-type', 'application/json')
      if (req.method === 'POST' && req.url === '/token') {
        res.end(JSON.stringify({ access_token: ORIGIN_TOKEN, token_type: 'Bearer', expires_in: 3600 }))
      } else {
        res.end(JSON.stringify(recorded))
      }
    })
  })
  server.on('tlsClientError', (err: NodeJS.ErrnoException) => { tlsErrors.push(err.code ?? err.message) })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  t.after(() => new Promise<void>((resolve) => {
    server.closeAllConnections()
    server.close(() => resolve())
  }))
  return { port, url: (host = '127.0.0.1') => `https://${host}:${port}`, requests, tlsErrors }
}
