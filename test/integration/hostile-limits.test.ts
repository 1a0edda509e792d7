/**
 * Request size limits: a header section larger than Node's limit (16 KiB,
 * request line included) is a 431; a body larger than its upstream's
 * `bodyLimit` is a 413 problem, with and without Content-Length, and the
 * origin never receives more than the limit.
 */
import { test, type TestContext } from 'node:test'
import fc from 'fast-check'
import { startOrigin } from '../helpers/origin.js'
import { startSidecar } from '../helpers/sidecar.js'
import { eventually, exchange, type Exchange } from '../helpers/hostile.js'

const PROBLEM = 'application/problem+json; charset=utf-8'

async function healthy (url: string): Promise<boolean> {
  const res = await fetch(`${url}/healthz`)
  await res.arrayBuffer()
  return res.status === 200
}

function describe (ex: Exchange): string {
  return `${ex.final?.status ?? ex.ended} ${ex.final?.body.slice(0, 200) ?? ''}`
}

test('a header section over 16 KiB is a 431, in one header, in many, or in the request line; 8 KiB passes', async (t: TestContext) => {
  const origin = await startOrigin(t)
  const { url } = await startSidecar(t, { log: { level: 'warn' }, upstreams: { a: { target: origin.url } } })
  const port = Number(new URL(url).port)
  const many = Array.from({ length: 400 }, (_, i) => `X-H${i}: ${'v'.repeat(50)}\r\n`).join('')
  const cases: Array<[string, string, number]> = [
    ['one 8 KiB header', `GET /a/x HTTP/1.1\r\nHost: h\r\nX-Big: ${'b'.repeat(8 * 1024)}\r\nConnection: close\r\n\r\n`, 200],
    ['one 17 KiB header', `GET /a/x HTTP/1.1\r\nHost: h\r\nX-Big: ${'b'.repeat(17 * 1024)}\r\nConnection: close\r\n\r\n`, 431],
    ['400 headers, 24 KiB in all', `GET /a/x HTTP/1.1\r\nHost: h\r\n${many}Connection: close\r\n\r\n`, 431],
    ['a 17 KiB request line', `GET /a/${'p'.repeat(17 * 1024)} HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n`, 431],
    ['a 17 KiB query', `GET /a/x?q=${'q'.repeat(17 * 1024)} HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n`, 431]
  ]
  t.plan(cases.length * 2 + 2)
  for (const [name, raw, status] of cases) {
    const ex = await exchange(port, raw)
    t.assert.strictEqual(ex.final?.status, status, `${name}: ${describe(ex)}`)
    t.assert.ok(await healthy(url), name)
  }
  // 1 MiB of header: the sidecar answers 431 and closes while the client is still writing,
  // so the client may see the 431 or only the reset. Either is a refusal; nothing is forwarded.
  const huge = await exchange(port, `GET /a/x HTTP/1.1\r\nHost: h\r\nX-Huge: ${'h'.repeat(1024 * 1024)}\r\n\r\n`)
  t.assert.ok(huge.final?.status === 431 || (huge.final === undefined && huge.ended !== 'timeout'), `1 MiB header: ${describe(huge)}`)
  t.assert.strictEqual(origin.requests.length, 1, 'only the 8 KiB request was forwarded')
})

test('bodies around each upstream\'s bodyLimit: 413 above it, with or without Content-Length; the origin never gets more', async (t: TestContext) => {
  const a = await startOrigin(t)
  const b = await startOrigin(t)
  const sidecar = await startSidecar(t, {
    log: { level: 'warn' },
    server: { bodyLimit: 1000 },
    upstreams: { a: { target: `${a.url}/base`, bodyLimit: 100 }, b: { target: b.url } }
  })
  const port = Number(new URL(sidecar.url).port)
  const limits = { a: 100, b: 1000 }
  const body = fc.record({
    upstream: fc.constantFrom('a' as const, 'b' as const),
    method: fc.constantFrom('POST', 'PUT', 'PATCH'),
    size: fc.oneof(fc.integer({ min: 0, max: 1200 }), fc.constantFrom(99, 100, 101, 999, 1000, 1001)),
    chunks: fc.option(fc.array(fc.integer({ min: 1, max: 300 }), { minLength: 1, maxLength: 8 }), { nil: undefined })
  })
  await fc.assert(fc.asyncProperty(body, async ({ upstream, method, size, chunks }) => {
    const origin = upstream === 'a' ? a : b
    const before = origin.requests.length
    const payload = 'x'.repeat(size)
    let framed: string
    if (chunks === undefined) {
      framed = `Content-Length: ${size}\r\nConnection: close\r\n\r\n${payload}`
    } else {
      // Chunk sizes cycle until the payload is spent.
      let rest = payload
      let encoded = ''
      for (let i = 0; rest.length > 0; i++) {
        const piece = rest.slice(0, chunks[i % chunks.length])
        encoded += `${piece.length.toString(16)}\r\n${piece}\r\n`
        rest = rest.slice(piece.length)
      }
      framed = `Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n${encoded}0\r\n\r\n`
    }
    const ex = await exchange(port, `${method} /${upstream}/x HTTP/1.1\r\nHost: h\r\n${framed}`)
    const why = `${method} /${upstream} ${size} bytes ${chunks === undefined ? 'with Content-Length' : `chunked ${JSON.stringify(chunks)}`}: ${describe(ex)}`
    const limit = limits[upstream]
    if (size > limit) {
      t.assert.strictEqual(ex.final?.status, 413, why)
      t.assert.strictEqual(ex.final?.headers['content-type'], PROBLEM, why)
      const problem = JSON.parse(ex.final?.body ?? '{}') as Record<string, unknown>
      t.assert.strictEqual(problem.code, 'TG_BODY_TOO_LARGE', why)
      t.assert.strictEqual(problem.upstream, upstream, why)
      if (chunks === undefined) t.assert.strictEqual(origin.requests.length, before, `refused on its Content-Length, yet forwarded: ${why}`)
    } else {
      t.assert.strictEqual(ex.final?.status, 200, why)
      t.assert.strictEqual(origin.requests.at(-1)?.body.length, size, why)
    }
    // A chunked body over the limit may have started upstream; never more than the limit arrives.
    for (const recorded of origin.requests.slice(before)) t.assert.ok(recorded.body.length <= limit, `the origin got ${recorded.body.length} bytes: ${why}`)
  }), { numRuns: 150, includeErrorInReport: true })
  for (const runtime of sidecar.sidecar.upstreams) {
    t.assert.ok(await eventually(() => runtime.limiter.status().running === 0), `${runtime.config.name}: a slot is still held`)
  }
})
