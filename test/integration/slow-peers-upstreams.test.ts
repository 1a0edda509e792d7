/**
 * Slow and broken upstreams and token endpoints. For each misbehaviour the
 * app gets a clear answer (502 / 504 problem) or, once a 200 has started,
 * a clean close at a bounded time; and afterwards nothing leaks: no sidecar
 * socket, no limiter slot or queue entry, no pile of upstream connections,
 * and the very next request is served.
 *
 * The upstream is a raw TCP peer, so it can stall, reset or babble at will.
 */
import type { Socket } from 'node:net'
import { test, type TestContext } from 'node:test'
import { startSidecar, type RunningSidecar } from '../helpers/sidecar.js'
import { connectionsOf, eventually, exchange, startTcpPeer, type Exchange, type TcpPeer } from '../helpers/hostile.js'

const TIMEOUT_MS = 400
const PROBLEM = 'application/problem+json; charset=utf-8'
const OK = 'HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 2\r\n\r\nok'

type Behaviour = (socket: Socket) => void

/** An origin whose behaviour for the next request the test sets; a good answer by default. */
async function brokenOrigin (t: TestContext): Promise<{ peer: TcpPeer, behave: (next: Behaviour) => void }> {
  let behaviour: Behaviour = (socket) => socket.write(OK)
  const peer = await startTcpPeer(t, (socket) => {
    // One request per read is enough here: the sidecar never pipelines (pipelining: 1).
    socket.on('data', () => behaviour(socket))
  })
  return { peer, behave: (next) => { behaviour = next } }
}

async function rig (t: TestContext): Promise<{ sidecar: RunningSidecar, origin: TcpPeer, behave: (next: Behaviour) => void, port: number }> {
  const { peer, behave } = await brokenOrigin(t)
  const sidecar = await startSidecar(t, {
    log: { level: 'warn' },
    upstreams: { a: { target: `${peer.url}/base`, timeout: `${TIMEOUT_MS}ms`, rateLimit: { requests: 10_000, window: '1s', maxConcurrent: 2 } } }
  })
  return { sidecar, origin: peer, behave, port: Number(new URL(sidecar.url).port) }
}

function describe (ex: Exchange): string {
  return `${ex.final?.status ?? ex.ended} after ${Math.round(ex.elapsedMs)} ms: ${JSON.stringify(ex.raw.slice(0, 300))}`
}

async function get (port: number, path = '/a/x'): Promise<Exchange> {
  return await exchange(port, `GET ${path} HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n`, { deadlineMs: 5000 })
}

/** After a fault: no sidecar socket, no held slot, upstream sockets bounded, and the next request works. */
async function assertRecovered (t: TestContext, r: { sidecar: RunningSidecar, origin: TcpPeer, behave: (next: Behaviour) => void, port: number }, what: string): Promise<void> {
  const limiter = r.sidecar.sidecar.upstreams[0]?.limiter
  t.assert.ok(await eventually(async () => await connectionsOf(r.sidecar.sidecar.app.server) === 0), `${what}: a sidecar socket is still open`)
  t.assert.ok(await eventually(() => limiter?.status().running === 0 && limiter.status().queued === 0), `${what}: limiter ${JSON.stringify(limiter?.status())}`)
  // undici may open one spare connection after destroying a failed one; never more than the pool allows.
  t.assert.ok(await eventually(() => r.origin.open.size <= 2), `${what}: ${r.origin.open.size} upstream sockets open`)
  r.behave((socket) => socket.write(OK))
  const next = await get(r.port)
  t.assert.strictEqual(next.final?.status, 200, `${what}: the next request: ${describe(next)}`)
}

function problemOf (ex: Exchange): Record<string, unknown> {
  return JSON.parse(ex.final?.body ?? '{}') as Record<string, unknown>
}

test('an upstream that stalls mid-body: the app gets the head, part of the body, then a clean close, within timeout', async (t: TestContext) => {
  t.plan(7)
  const r = await rig(t)
  r.behave((socket) => socket.write('HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 100\r\n\r\nhalf'))
  const ex = await get(r.port)
  t.assert.strictEqual(ex.final?.status, 200, describe(ex))
  t.assert.strictEqual(ex.final?.complete, false, 'the truncated body must not look complete (content-length kept)')
  // undici's body timeout runs on its coarse timers: up to about a second late (src/egress/deadline.ts).
  t.assert.ok(ex.ended !== 'timeout' && ex.elapsedMs < TIMEOUT_MS + 1500, describe(ex))
  await assertRecovered(t, r, 'stall mid-body')
})

test('an upstream that resets mid-response: a clean close, nothing held', async (t: TestContext) => {
  t.plan(6)
  const r = await rig(t)
  r.behave((socket) => {
    socket.write('HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 100\r\n\r\nhalf', () => socket.resetAndDestroy())
  })
  const ex = await get(r.port)
  t.assert.strictEqual(ex.final?.status, 200, describe(ex))
  t.assert.strictEqual(ex.final?.complete, false, describe(ex))
  await assertRecovered(t, r, 'reset mid-response')
})

const BEFORE_HEADERS: Array<[string, Behaviour, number, string]> = [
  ['answers garbage bytes', (socket) => socket.end('\x00\x01\x02 not http\r\n\r\n'), 502, 'TG_UPSTREAM_BAD_RESPONSE'],
  ['answers an impossible status line', (socket) => socket.end('HTTP/1.1 999999 What\r\ncontent-length: 0\r\n\r\n'), 502, 'TG_UPSTREAM_BAD_RESPONSE'],
  ['answers conflicting lengths', (socket) => socket.end('HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-length: 3\r\n\r\nok!'), 502, 'TG_UPSTREAM_BAD_RESPONSE'],
  ['resets before answering', (socket) => socket.resetAndDestroy(), 502, 'TG_UPSTREAM_UNREACHABLE'],
  ['closes without answering', (socket) => socket.end(), 502, 'TG_UPSTREAM_UNREACHABLE'],
  ['never answers', () => {}, 504, 'TG_UPSTREAM_TIMEOUT'],
  ['sends half a header section, then nothing', (socket) => socket.write('HTTP/1.1 200 OK\r\ncontent-'), 504, 'TG_UPSTREAM_TIMEOUT'],
  ['drips its headers a byte every 100 ms', (socket) => {
    const head = 'HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok'
    let i = 0
    const timer = setInterval(() => { if (i < head.length && !socket.destroyed) socket.write(head[i++] as string); else clearInterval(timer) }, 100)
    socket.on('close', () => clearInterval(timer))
  }, 504, 'TG_UPSTREAM_TIMEOUT']
]

for (const [name, behaviour, status, code] of BEFORE_HEADERS) {
  test(`an upstream that ${name}: ${status} ${code}, nothing held`, async (t: TestContext) => {
    t.plan(9)
    const r = await rig(t)
    r.behave(behaviour)
    const ex = await get(r.port)
    t.assert.strictEqual(ex.final?.status, status, describe(ex))
    t.assert.strictEqual(ex.final?.headers['content-type'], PROBLEM)
    const problem = problemOf(ex)
    t.assert.strictEqual(problem.code, code, describe(ex))
    t.assert.strictEqual(problem.upstream, 'a')
    // A 504 comes at the timeout (a native timer, src/egress/deadline.ts), a 502 as soon as the fault shows.
    t.assert.ok(status === 504 ? ex.elapsedMs >= TIMEOUT_MS - 20 && ex.elapsedMs < TIMEOUT_MS + 500 : ex.elapsedMs < TIMEOUT_MS, describe(ex))
    await assertRecovered(t, r, name)
  })
}

test('an upstream that drips its body, each byte within timeout, is not cut off: timeout bounds a stall, not the total', async (t: TestContext) => {
  t.plan(2)
  const r = await rig(t)
  r.behave((socket) => {
    socket.write('HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 6\r\n\r\n')
    let i = 0
    // 6 bytes, 150 ms apart: 900 ms in all, more than twice the timeout, but never a 400 ms stall.
    const timer = setInterval(() => { if (i < 6 && !socket.destroyed) socket.write('abcdef'[i++] as string); else clearInterval(timer) }, 150)
    socket.on('close', () => clearInterval(timer))
  })
  const ex = await get(r.port)
  t.assert.strictEqual(ex.final?.status, 200, describe(ex))
  t.assert.deepStrictEqual([ex.final?.body, ex.final?.complete], ['abcdef', true], describe(ex))
})

test('ten requests against an upstream that never answers, two slots: all get 504, the queue drains, nothing held', async (t: TestContext) => {
  t.plan(5)
  const r = await rig(t)
  r.behave(() => {})
  const all = await Promise.all(Array.from({ length: 10 }, async () => await get(r.port)))
  t.assert.deepStrictEqual(all.map((ex) => ex.final?.status), Array.from({ length: 10 }, () => 504))
  await assertRecovered(t, r, 'ten stalled requests')
})

test('a token endpoint that hangs: 502 after auth.timeout, no upstream request, no socket left on either side', async (t: TestContext) => {
  t.plan(10)
  const secret = 'hanging-endpoint-secret-3f9c'
  const tokenPeer = await startTcpPeer(t, () => {})
  const { peer: origin } = await brokenOrigin(t)
  const sidecar = await startSidecar(t, {
    upstreams: {
      a: {
        target: origin.url,
        timeout: '2s',
        rateLimit: { requests: 10_000, window: '1s', maxConcurrent: 2 },
        auth: { type: 'oauth2_client_credentials', tokenUrl: `${tokenPeer.url}/token`, clientId: 'id', clientSecret: secret, timeout: '300ms' }
      }
    }
  })
  const port = Number(new URL(sidecar.url).port)
  const ex = await get(port)
  t.assert.strictEqual(ex.final?.status, 502, describe(ex))
  t.assert.strictEqual(problemOf(ex).code, 'TG_TOKEN_FETCH_FAILED')
  t.assert.match(String(problemOf(ex).detail), /timed out/i)
  t.assert.ok(ex.elapsedMs >= 280 && ex.elapsedMs < 1500, describe(ex))
  t.assert.ok(!ex.raw.includes(secret), 'no secret in the answer')
  t.assert.strictEqual(origin.accepted, 0, 'no request without a token')
  t.assert.ok(await eventually(() => tokenPeer.open.size === 0), `${tokenPeer.open.size} sockets to the token endpoint still open`)
  t.assert.ok(await eventually(async () => await connectionsOf(sidecar.sidecar.app.server) === 0))
  const limiter = sidecar.sidecar.upstreams[0]?.limiter
  t.assert.ok(await eventually(() => limiter?.status().running === 0 && limiter.status().queued === 0), JSON.stringify(limiter?.status()))
  t.assert.ok(!sidecar.logs.text().includes(secret), 'no secret in the log')
})
