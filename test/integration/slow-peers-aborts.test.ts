/**
 * Apps that give up: 2,000 requests abandoned at every stage (mid-headers,
 * queued for a limiter slot, waiting for the origin, mid-body, mid-response).
 * Afterwards nothing is held (sockets, limiter slots, queue entries), the
 * upstream pool is bounded, the next request is served, and the heap has
 * not grown by more than a few MB.
 */
import { connect } from 'node:net'
import { test, type TestContext } from 'node:test'
import { startSidecar } from '../helpers/sidecar.js'
import { collectGarbage, connectionsOf, eventually, startCountedOrigin } from '../helpers/hostile.js'

const MAX_CONCURRENT = 50
const BATCH = 200
const BATCHES = 10
/** Generous: a leak of one request's state (a socket, a closure, a timer) times 2,000 is far more. */
const HEAP_GROWTH_LIMIT = 8 * 1024 * 1024

type Stage = 'mid-headers' | 'queued or waiting' | 'mid-body' | 'mid-response' | 'at once'
const STAGES: readonly Stage[] = ['mid-headers', 'queued or waiting', 'mid-body', 'mid-response', 'at once']

/** One app request, abandoned at `stage`; resolves when the socket is gone. */
async function abandon (port: number, stage: Stage, index: number): Promise<void> {
  await new Promise<void>((resolve) => {
    const socket = connect(port, '127.0.0.1')
    socket.on('error', () => {})
    socket.on('close', () => resolve())
    socket.on('connect', () => {
      switch (stage) {
        case 'mid-headers':
          socket.write('GET /a/slow HTTP/1.1\r\nHost: h\r\nX-Half: ', () => socket.destroy())
          break
        case 'queued or waiting':
          socket.write('GET /a/slow HTTP/1.1\r\nHost: h\r\n\r\n')
          setTimeout(() => socket.destroy(), index % 40)
          break
        case 'mid-body':
          socket.write(`POST /a/slow HTTP/1.1\r\nHost: h\r\nContent-Length: 1000\r\n\r\n${'b'.repeat(100)}`, () => setTimeout(() => socket.destroy(), index % 20))
          break
        case 'mid-response':
          socket.write('GET /a/big HTTP/1.1\r\nHost: h\r\n\r\n')
          socket.once('data', () => socket.destroy())
          break
        case 'at once':
          socket.write('GET /a/slow HTTP/1.1\r\nHost: h\r\n\r\n', () => socket.destroy())
          break
      }
    })
  })
}

test('2,000 abandoned requests: nothing held afterwards, the next request is served, the heap stays put', async (t: TestContext) => {
  const origin = await startCountedOrigin(t, (req, res) => {
    // /slow answers after the body (if any) and a short wait, so that requests pile up in flight
    // and in the queue; /big answers at once with more than a socket buffer holds.
    req.resume()
    req.on('end', () => {
      if (req.url === '/big') {
        res.writeHead(200, { 'content-type': 'application/octet-stream' })
        res.end(Buffer.alloc(128 * 1024, 98))
        return
      }
      const timer = setTimeout(() => res.end('slow'), 20)
      res.on('close', () => clearTimeout(timer))
    })
  })
  const sidecar = await startSidecar(t, {
    log: { level: 'silent' },
    upstreams: { a: { target: origin.url, timeout: '5s', rateLimit: { requests: 1_000_000, window: '1s', maxConcurrent: MAX_CONCURRENT, maxQueue: 1000 } } }
  })
  const port = Number(new URL(sidecar.url).port)
  const limiter = sidecar.sidecar.upstreams[0]?.limiter
  const settled = async (): Promise<boolean> => limiter?.status().running === 0 && limiter.status().queued === 0 && await connectionsOf(sidecar.sidecar.app.server) === 0

  const batch = async (from: number): Promise<void> => {
    await Promise.all(Array.from({ length: BATCH }, async (_, i) => await abandon(port, STAGES[(from + i) % STAGES.length] as Stage, from + i)))
  }

  // Warm up (JIT, pools, lazily built objects), then measure from a settled, collected heap.
  await batch(0)
  t.assert.ok(await eventually(settled, 5000), 'settled after the warm-up')
  collectGarbage()
  const before = process.memoryUsage().heapUsed

  for (let n = 0; n < BATCHES; n++) await batch(n * BATCH)

  t.assert.ok(await eventually(settled, 5000), `not settled: limiter ${JSON.stringify(limiter?.status())}, sidecar sockets ${await connectionsOf(sidecar.sidecar.app.server)}`)
  // The pool never holds more than maxConcurrent connections, whatever the apps did.
  t.assert.ok(await origin.connections() <= MAX_CONCURRENT, `${await origin.connections()} upstream connections`)
  t.assert.ok(await eventually(() => origin.requests.every((recorded) => recorded.ended !== 'open'), 5000), 'an upstream request is still open')

  collectGarbage()
  const growth = process.memoryUsage().heapUsed - before
  t.diagnostic(`heapUsed grew by ${(growth / 1024 / 1024).toFixed(2)} MB over ${BATCH * BATCHES} abandoned requests`)
  t.assert.ok(growth < HEAP_GROWTH_LIMIT, `heapUsed grew by ${(growth / 1024 / 1024).toFixed(1)} MB`)

  const res = await fetch(`${sidecar.url}/a/slow`, { signal: AbortSignal.timeout(3000) })
  t.assert.strictEqual(res.status, 200)
  t.assert.strictEqual(await res.text(), 'slow')
})
