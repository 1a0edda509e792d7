/**
 * A loopback upstream that records every request it receives: start time,
 * method, raw URL, headers, body, and when its first body byte arrived.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { TestContext } from 'node:test'

export interface RecordedRequest {
  readonly startedAt: number
  readonly method: string
  readonly url: string
  readonly headers: IncomingMessage['headers']
  body: Buffer
  firstByteAt?: number
}

export type OriginHandler = (req: IncomingMessage, res: ServerResponse, recorded: RecordedRequest) => void | Promise<void>

export interface Origin {
  readonly url: string
  readonly requests: RecordedRequest[]
  close (): Promise<void>
}

/** Default handler: 200 JSON echo of method, url and the headers received. */
export function echo (req: IncomingMessage, res: ServerResponse, recorded: RecordedRequest): void {
  req.on('end', () => {
    res.setHeader('content-type', 'application/json')
    res.end(JSON.stringify({ method: recorded.method, url: recorded.url, headers: recorded.headers, bodyLength: recorded.body.length }))
  })
}

export async function startOrigin (t: TestContext | undefined, handler: OriginHandler = echo): Promise<Origin> {
  const requests: RecordedRequest[] = []
  const server = createServer((req, res) => {
    const recorded: RecordedRequest = { startedAt: performance.now(), method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.alloc(0) }
    requests.push(recorded)
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => {
      recorded.firstByteAt ??= performance.now()
      chunks.push(chunk)
      recorded.body = Buffer.concat(chunks)
    })
    Promise.resolve(handler(req, res, recorded)).catch((err: unknown) => {
      res.destroy(err as Error)
    })
  })
  // Like a vendor: connections stay open well past undici's 2 s keep-alive threshold, so tests reuse them.
  server.keepAliveTimeout = 10_000
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const close = async (): Promise<void> => {
    server.closeAllConnections()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  }
  t?.after(close)
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests, close }
}
