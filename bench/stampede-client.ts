/**
 * The cold-start stampede, client side: open `count` keep-alive connections
 * first (GET /healthz, which needs no token), then send `count` requests on
 * them at once, so they reach the sidecar together rather than as fast as
 * the kernel accepts connections. Prints one JSON line: statuses and the
 * time to first byte of each.
 */
import { Agent, request } from 'node:http'
import { childArgument } from './child-ipc.js'

export interface StampedeOptions {
  readonly url: string
  readonly path: string
  readonly count: number
}

export interface StampedeResult {
  readonly statuses: Record<string, number>
  /** Time to first byte, ms: from sending the request to its response head. */
  readonly ttfb: number[]
  /** From the first request sent to the last response head, ms. */
  readonly spanMs: number
}

const { url, path, count } = childArgument<StampedeOptions>()
process.on('disconnect', () => process.exit(1))

const agent = new Agent({ keepAlive: true, maxSockets: count, maxFreeSockets: count })

function get (target: string): Promise<{ status: number, ttfb: number, headAt: number }> {
  return new Promise((resolve, reject) => {
    const sent = performance.now()
    const req = request(new URL(target, url), { agent }, (res) => {
      const headAt = performance.now()
      res.resume()
      res.on('end', () => resolve({ status: res.statusCode ?? 0, ttfb: headAt - sent, headAt }))
    })
    req.setTimeout(20_000, () => req.destroy(new Error('stampede request timed out')))
    req.on('error', reject)
    req.end()
  })
}

await Promise.all(Array.from({ length: count }, () => get('/healthz')))
const start = performance.now()
const results = await Promise.all(Array.from({ length: count }, () => get(path)))
const statuses: Record<string, number> = {}
for (const r of results) statuses[r.status] = (statuses[r.status] ?? 0) + 1
agent.destroy()
const lastHead = results.reduce((latest, r) => Math.max(latest, r.headAt), start)
const out: StampedeResult = { statuses, ttfb: results.map((r) => r.ttfb), spanMs: lastHead - start }
process.stdout.write(`${JSON.stringify(out)}\n`, () => process.exit(0))
