/**
 * A fake OAuth2 token endpoint on loopback that records every request and
 * answers as the test says. Good for the token client's tests and for
 * proxy-level tests that need a token server they can inspect or break.
 */
import { createServer, type IncomingHttpHeaders } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { TestContext } from 'node:test'
import type { OAuth2ClientCredentialsAuth } from '../../src/config/types.js'

export interface RecordedRequest {
  readonly method: string
  /** Path and query. */
  readonly path: string
  readonly headers: IncomingHttpHeaders
  /** The raw body, UTF-8. */
  readonly body: string
  /** Date.now() when the body had arrived. */
  readonly at: number
}

export interface Reply {
  /** Default 200. */
  readonly status?: number
  readonly headers?: Readonly<Record<string, string>>
  /** A string is sent as it is; anything else as JSON. Default: no body. */
  readonly body?: unknown
}

/** Answer nothing and keep the connection open (a hung token server). */
export const HANG = Symbol('hang')

/** `index` counts requests from 0. */
export type TokenHandler = (request: RecordedRequest, index: number) => Reply | typeof HANG | Promise<Reply | typeof HANG>

export interface TokenEndpoint {
  /** `http://127.0.0.1:PORT` */
  readonly origin: string
  /** `${origin}/token` */
  readonly url: string
  readonly requests: readonly RecordedRequest[]
  /** May be replaced at any time: the endpoint goes down, comes back, changes its mind. */
  handler: TokenHandler
  /** Resolves once `count` requests in all have arrived. */
  waitForRequests (count: number): Promise<void>
  close (): Promise<void>
}

/** Start an endpoint; it is closed (hung connections included) when the test ends. */
export async function startTokenEndpoint (t: TestContext, handler: TokenHandler): Promise<TokenEndpoint> {
  const requests: RecordedRequest[] = []
  const waiters: Array<{ count: number, resolve: () => void }> = []
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      const recorded: RecordedRequest = {
        method: req.method ?? '',
        path: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        at: Date.now()
      }
      const index = requests.push(recorded) - 1
      for (const waiter of waiters.filter((w) => requests.length >= w.count)) {
        waiters.splice(waiters.indexOf(waiter), 1)
        waiter.resolve()
      }
      Promise.resolve().then(() => endpoint.handler(recorded, index)).then((reply) => {
        if (reply === HANG) return
        const isText = typeof reply.body === 'string'
        const body = reply.body === undefined ? '' : isText ? reply.body as string : JSON.stringify(reply.body)
        res.writeHead(reply.status ?? 200, {
          ...(reply.body === undefined || isText ? {} : { 'content-type': 'application/json' }),
          ...reply.headers
        })
        res.end(body)
      }, (err: unknown) => {
        res.writeHead(500).end(String(err))
      })
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  let closed: Promise<void> | undefined
  const endpoint: TokenEndpoint = {
    origin,
    url: `${origin}/token`,
    requests,
    handler,
    waitForRequests (count) {
      if (requests.length >= count) return Promise.resolve()
      return new Promise((resolve) => waiters.push({ count, resolve }))
    },
    close () {
      closed ??= new Promise((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      })
      return closed
    }
  }
  t.after(() => endpoint.close())
  return endpoint
}

/** An RFC 6749 §5.1 success answer; without `expiresIn`, no `expires_in`. */
export function tokenReply (accessToken: string, expiresIn?: number, extra: Readonly<Record<string, unknown>> = {}): Reply {
  return { body: { access_token: accessToken, token_type: 'Bearer', ...(expiresIn === undefined ? {} : { expires_in: expiresIn }), ...extra } }
}

/** An RFC 6749 §5.2 error answer. */
export function errorReply (status: number, error: string, description?: string): Reply {
  return { status, body: description === undefined ? { error } : { error, error_description: description } }
}

/** A resolved oauth2_client_credentials config for `tokenUrl`, as config/validate.ts would build it. */
export function oauthConfig (tokenUrl: string, overrides: Partial<OAuth2ClientCredentialsAuth> = {}): OAuth2ClientCredentialsAuth {
  return {
    type: 'oauth2_client_credentials',
    tokenUrl,
    clientId: 'client-id',
    clientSecret: 'client-secret',
    clientAuth: 'client_secret_post',
    bodyEncoding: 'form',
    params: {},
    signingAlg: 'RS384',
    assertionAudience: tokenUrl,
    timeoutMs: 2000,
    refreshBeforeMs: 60_000,
    ...overrides
  }
}
