/**
 * The vendor side, in its own process: a resource server as fast as node:http
 * allows (a fixed small JSON answer; a POST body is counted, then answered),
 * and an OAuth2 token endpoint. It records what the scenarios check: token
 * requests and when they came, request starts (when asked, each with the
 * number the load generator put in its x-bench-tag header: which tollgate it
 * came through), requests that carried an Authorization header, and POST
 * bodies that arrived short.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { announce, epochNow, serveParent } from './child-ipc.js'

const SMALL = Buffer.from(JSON.stringify({ resourceType: 'Patient', id: 'bench-1', active: true, name: [{ family: 'Bench', given: ['Tollgate'] }] }))
const SMALL_HEADERS = { 'content-type': 'application/json', 'content-length': String(SMALL.length) }

let requests = 0
let authorized = 0
let shortBodies = 0
let recording = false
let starts: number[] = []
let tags: number[] = []
let tokenRequests: number[] = []
let tokenDelayMs = 0
let tokenSeq = 0

function resource (req: IncomingMessage, res: ServerResponse): void {
  requests++
  if (recording) {
    starts.push(epochNow())
    tags.push(Number(req.headers['x-bench-tag'] ?? -1))
  }
  if (req.headers.authorization !== undefined) authorized++
  if (req.method === 'GET') {
    res.writeHead(200, SMALL_HEADERS).end(SMALL)
    return
  }
  const expected = Number(req.headers['content-length'] ?? -1)
  let seen = 0
  req.on('data', (chunk: Buffer) => { seen += chunk.length })
  req.on('end', () => {
    if (expected >= 0 && seen !== expected) shortBodies++
    res.writeHead(200, SMALL_HEADERS).end(SMALL)
  })
}

function token (req: IncomingMessage, res: ServerResponse): void {
  tokenRequests.push(epochNow())
  req.resume()
  req.on('end', () => {
    const body = JSON.stringify({ access_token: `bench-token-${++tokenSeq}`, token_type: 'Bearer', expires_in: 3600 })
    const send = (): void => { res.writeHead(200, { 'content-type': 'application/json' }).end(body) }
    if (tokenDelayMs > 0) setTimeout(send, tokenDelayMs)
    else send()
  })
}

const api = createServer(resource)
const tokens = createServer(token)
// Longer than the proxies' pool keep-alive (4 s), so the upstream never closes a pooled socket first.
api.keepAliveTimeout = 10_000
api.headersTimeout = 15_000

async function listen (server: ReturnType<typeof createServer>): Promise<number> {
  await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0, backlog: 4096 }, resolve))
  return (server.address() as AddressInfo).port
}

const apiPort = await listen(api)
const tokenPort = await listen(tokens)

serveParent({
  /** User + system CPU µs so far. */
  cpu: () => { const { user, system } = process.cpuUsage(); return user + system },
  /** Token endpoint delay in ms (a real one takes tens of ms; the scenarios make a wait visible with it). */
  tokenDelay: ({ ms }) => { tokenDelayMs = Number(ms) },
  record: ({ on }) => {
    recording = on === true
    if (recording) {
      starts = []
      tags = []
    }
  },
  /** Start times recorded since `record on`, epoch ms. */
  starts: () => Float64Array.from(starts),
  /** x-bench-tag of each recorded start (-1: none), in the order of `starts`. */
  tags: () => Int32Array.from(tags),
  counters: () => ({ requests, authorized, shortBodies, tokenRequests: tokenRequests.length }),
  tokenRequestTimes: () => Float64Array.from(tokenRequests),
  reset: () => {
    requests = authorized = shortBodies = 0
    tokenRequests = []
    starts = []
    tags = []
  }
}, async () => {
  api.closeAllConnections()
  tokens.closeAllConnections()
  await Promise.all([new Promise((resolve) => api.close(resolve)), new Promise((resolve) => tokens.close(resolve))])
})

announce({ origin: `http://127.0.0.1:${apiPort}`, tokenUrl: `http://127.0.0.1:${tokenPort}/token` })
