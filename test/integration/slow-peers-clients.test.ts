/**
 * Slow and stalled clients (slowloris): the headers must arrive within
 * `server.headersTimeout`, the whole request within `server.bodyTimeout`;
 * past either, the client gets a 408 (or, mid-response, just the close) and
 * nothing stays behind: no socket, no limiter slot, no upstream request.
 */
import { test, type TestContext } from 'node:test'
import { resolveConfig } from '../../src/config/load.js'
import { formatIssues } from '../../src/config/issues.js'
import { startSidecar, type RunningSidecar } from '../helpers/sidecar.js'
import { connectionsOf, eventually, exchange, startCountedOrigin, type CountedOrigin, type Exchange } from '../helpers/hostile.js'

const HEADERS_TIMEOUT_MS = 400
const BODY_TIMEOUT_MS = 800

async function rig (t: TestContext, upstream: Record<string, unknown> = {}): Promise<{ sidecar: RunningSidecar, origin: CountedOrigin, port: number }> {
  const origin = await startCountedOrigin(t)
  const sidecar = await startSidecar(t, {
    log: { level: 'warn' },
    server: { headersTimeout: `${HEADERS_TIMEOUT_MS}ms`, bodyTimeout: `${BODY_TIMEOUT_MS}ms` },
    // One slot: a slot a stalled client kept would block the request that follows.
    upstreams: { a: { target: origin.url, rateLimit: { requests: 1000, window: '1s', maxConcurrent: 1 }, ...upstream } }
  })
  return { sidecar, origin, port: Number(new URL(sidecar.url).port) }
}

/** Cut off: a 408 then the close, or the close alone; never left hanging. */
function assertCutOff (t: TestContext, ex: Exchange, what: string): void {
  t.assert.notStrictEqual(ex.ended, 'timeout', `${what}: still open after ${Math.round(ex.elapsedMs)} ms`)
  t.assert.ok(ex.final === undefined || ex.final.status === 408, `${what}: answered ${ex.final?.status ?? '-'} ${ex.final?.body ?? ''}`)
}

/** Nothing stays behind, and the next request is served at once. */
async function assertClean (t: TestContext, sidecar: RunningSidecar, what: string): Promise<void> {
  const limiter = sidecar.sidecar.upstreams[0]?.limiter
  t.assert.ok(await eventually(async () => await connectionsOf(sidecar.sidecar.app.server) === 0), `${what}: a sidecar socket is still open`)
  t.assert.ok(await eventually(() => limiter?.status().running === 0 && limiter.status().queued === 0), `${what}: a limiter slot is still held: ${JSON.stringify(limiter?.status())}`)
  const res = await fetch(`${sidecar.url}/a/after`, { signal: AbortSignal.timeout(2000) })
  await res.arrayBuffer()
  t.assert.strictEqual(res.status, 200, `${what}: the next request`)
}

test('headers sent a byte at a time, slower than headersTimeout: cut off at about headersTimeout, nothing forwarded', async (t: TestContext) => {
  t.plan(7)
  const { sidecar, origin, port } = await rig(t)
  const head = 'GET /a/x HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: one-byte-every-40-ms\r\n\r\n'
  // About 2.8 s to send it all: seven times the limit.
  const ex = await exchange(port, head.split(''), { gapMs: 40, deadlineMs: 4000 })
  assertCutOff(t, ex, 'slowloris headers')
  t.assert.ok(ex.elapsedMs >= HEADERS_TIMEOUT_MS - 20 && ex.elapsedMs < HEADERS_TIMEOUT_MS + 700, `cut off after ${Math.round(ex.elapsedMs)} ms`)
  t.assert.strictEqual(origin.requests.length, 0)
  await assertClean(t, sidecar, 'slowloris headers')
})

test('a connection that sends nothing is closed at about headersTimeout', async (t: TestContext) => {
  t.plan(6)
  const { sidecar, port } = await rig(t)
  const ex = await exchange(port, [], { deadlineMs: 3000 })
  assertCutOff(t, ex, 'silent connection')
  t.assert.ok(ex.elapsedMs < HEADERS_TIMEOUT_MS + 700, `closed after ${Math.round(ex.elapsedMs)} ms`)
  await assertClean(t, sidecar, 'silent connection')
})

test('the admin listener (server.adminPort) cuts off a silent connection at headersTimeout too', async (t: TestContext) => {
  t.plan(3)
  const origin = await startCountedOrigin(t)
  const sidecar = await startSidecar(t, {
    log: { level: 'warn' },
    server: { headersTimeout: `${HEADERS_TIMEOUT_MS}ms`, bodyTimeout: `${BODY_TIMEOUT_MS}ms`, adminPort: 0 },
    upstreams: { a: { target: origin.url } }
  })
  const ex = await exchange(Number(new URL(sidecar.adminUrl as string).port), 'GET /status HTTP/1.1\r\nHost: h\r\nX-Slow', { deadlineMs: 3000 })
  assertCutOff(t, ex, 'silent admin connection')
  t.assert.ok(ex.elapsedMs < HEADERS_TIMEOUT_MS + 700, `closed after ${Math.round(ex.elapsedMs)} ms`)
})

const STALLED_BODIES: Record<string, string[]> = {
  // PUT is retryable: its small body is read whole before a slot is taken.
  'PUT with Content-Length (kept for replay)': ['PUT /a/x HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n', 'abc'],
  // POST is not: its body streams to the origin, holding the slot and an upstream request.
  'POST with Content-Length (streamed)': ['POST /a/x HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n', 'abc'],
  'POST chunked (streamed)': ['POST /a/x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n', '3\r\nabc\r\n']
}

for (const [name, parts] of Object.entries(STALLED_BODIES)) {
  test(`a body that stalls — ${name}: cut off at about bodyTimeout; no slot, socket or upstream request left`, async (t: TestContext) => {
    t.plan(8)
    const { sidecar, origin, port } = await rig(t)
    // The first part at once, the rest 100 ms later, then silence: the body never completes.
    const ex = await exchange(port, parts, { gapMs: 100, deadlineMs: 4000 })
    assertCutOff(t, ex, name)
    t.assert.ok(ex.elapsedMs >= BODY_TIMEOUT_MS - 20 && ex.elapsedMs < BODY_TIMEOUT_MS + 1000, `cut off after ${Math.round(ex.elapsedMs)} ms`)
    const forwarded = origin.requests.filter((recorded) => recorded.url === '/x')
    t.assert.ok(await eventually(() => forwarded.every((recorded) => recorded.ended !== 'open')), `the upstream request is still open: ${JSON.stringify(forwarded)}`)
    t.assert.ok(forwarded.every((recorded) => recorded.ended === 'aborted'), `a truncated body must not look complete upstream: ${JSON.stringify(forwarded)}`)
    await assertClean(t, sidecar, name)
  })
}

test('a slow but steady body that completes within bodyTimeout is served', async (t: TestContext) => {
  t.plan(3)
  const { sidecar, origin, port } = await rig(t)
  const parts = ['POST /a/x HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nConnection: close\r\n\r\n', 'a', 'b', 'c', 'd', 'e']
  // 500 ms in all, a byte every 100 ms: under the 800 ms bodyTimeout.
  const ex = await exchange(port, parts, { gapMs: 100 })
  t.assert.strictEqual(ex.final?.status, 200, ex.raw)
  t.assert.deepStrictEqual(origin.requests.map((recorded) => [recorded.url, recorded.bodyLength, recorded.ended]), [['/x', 5, 'complete']])
  t.assert.ok(await eventually(async () => await connectionsOf(sidecar.sidecar.app.server) === 0))
})

test('each request on a kept-alive connection gets its own bodyTimeout', async (t: TestContext) => {
  t.plan(2)
  const { port } = await rig(t)
  // Three quick requests 300 ms apart: 600 ms on one connection is fine, as each request is quick.
  const request = 'GET /a/x HTTP/1.1\r\nHost: h\r\n\r\n'
  const ex = await exchange(port, [request, request, 'GET /a/x HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n'], { gapMs: 300 })
  t.assert.deepStrictEqual(ex.responses.map((res) => res.status), [200, 200, 200])
  t.assert.strictEqual(ex.ended, 'closed')
})

// A client that stops reading: the response cannot be written, undici stops reading the
// origin (backpressure), and undici's body timeout does not run while it is paused. Unbounded,
// the limiter slot and the upstream connection would be held for as long as the app keeps the
// socket open. tollgate bounds it as nginx does with send_timeout and Envoy with
// stream_idle_timeout: once the body is paused for the app, its socket must make progress
// within the upstream's timeout (src/proxy/upstream-plugin.ts). See SECURITY.md.
test('a client that stops reading a large response loses its slot within a bound', async (t: TestContext) => {
  const origin = await startCountedOrigin(t, (_req, res) => {
    const chunk = Buffer.alloc(64 * 1024, 120)
    let sent = 0
    const pump = (): void => {
      while (sent < 64 * 1024 * 1024) {
        sent += chunk.length
        if (!res.write(chunk)) { res.once('drain', pump); return }
      }
      res.end()
    }
    pump()
  })
  const sidecar = await startSidecar(t, {
    log: { level: 'warn' },
    upstreams: { a: { target: origin.url, timeout: '500ms', rateLimit: { requests: 1000, window: '1s', maxConcurrent: 1 } } }
  })
  const limiter = sidecar.sidecar.upstreams[0]?.limiter
  const { connect } = await import('node:net')
  const socket = connect(Number(new URL(sidecar.url).port), '127.0.0.1', () => socket.write('GET /a/big HTTP/1.1\r\nHost: h\r\n\r\n'))
  socket.on('error', () => {})
  socket.pause()
  try {
    t.assert.ok(await eventually(() => limiter?.status().running === 1, 2000), 'the request took its slot')
    t.assert.ok(await eventually(() => limiter?.status().running === 0, 3000), 'the slot is still held by a client that reads nothing')
  } finally {
    // Before the sidecar's close, which would otherwise wait for this exchange for good.
    socket.destroy()
  }
})

test('config: bodyTimeout defaults to 30 s (or headersTimeout, when longer) and may not be shorter than headersTimeout', (t: TestContext) => {
  t.plan(4)
  const upstreams = { a: { target: 'http://127.0.0.1:9' } }
  t.assert.strictEqual(resolveConfig({ upstreams }, { env: {} }).config?.server.bodyTimeoutMs, 30_000)
  t.assert.strictEqual(resolveConfig({ server: { headersTimeout: '60s' }, upstreams }, { env: {} }).config?.server.bodyTimeoutMs, 60_000)
  t.assert.strictEqual(resolveConfig({ server: { bodyTimeout: '2m' }, upstreams }, { env: {} }).config?.server.bodyTimeoutMs, 120_000)
  const issues = resolveConfig({ server: { headersTimeout: '10s', bodyTimeout: '5s' }, upstreams }, { env: {} }).issues ?? []
  t.assert.strictEqual(formatIssues(issues), 'server.bodyTimeout: must not be shorter than server.headersTimeout (it counts from the first byte of the request)')
})
