import type { IncomingHttpHeaders } from 'node:http'
import { test, type TestContext } from 'node:test'
import { errors, type Dispatcher } from 'undici'
import type { UpstreamConfig } from '../../src/config/types.js'
import { kDispatchWatcher, type Attempt, type DispatchWatcher } from '../../src/egress/deadline.js'
import { createUpstreamDispatchers } from '../../src/egress/dispatcher.js'
import { startOrigin } from '../helpers/origin.js'

/** The upstream's API dispatcher, as the proxy gets it: only what egress reads of the config. */
function upstreamDispatcher (url: string, timeoutMs: number): Dispatcher {
  return createUpstreamDispatchers({ name: 'test', target: url, timeoutMs, auth: { type: 'none' } } as unknown as UpstreamConfig, { env: {} }).api
}

interface Seen { dispatched: number, headers: Array<[number, IncomingHttpHeaders]> }

function watcher (seen: Seen, onDispatch?: (attempt: Attempt) => void): DispatchWatcher {
  return {
    dispatched (attempt) { seen.dispatched++; onDispatch?.(attempt) },
    headers (statusCode, headers) { seen.headers.push([statusCode, headers]) }
  }
}

test('a dispatch that carries a watcher shows it the request going out and the parsed answer headers', async (t: TestContext) => {
  const origin = await startOrigin(t, (_req, res) => {
    res.setHeader('x-ratelimit-remaining', '7')
    res.setHeader('set-cookie', ['a=1', 'b=2'])
    res.end('ok')
  })
  const pool = upstreamDispatcher(origin.url, 10_000)
  t.after(async () => { await pool.close() })
  const seen: Seen = { dispatched: 0, headers: [] }
  const { statusCode, headers, body } = await pool.request({ method: 'GET', path: '/', headers: { [kDispatchWatcher]: watcher(seen) } as never })
  t.assert.strictEqual(await body.text(), 'ok')
  t.assert.strictEqual(statusCode, 200)
  t.assert.strictEqual(headers['x-ratelimit-remaining'], '7', 'the caller still gets the headers')
  t.assert.strictEqual(seen.dispatched, 1)
  t.assert.strictEqual(seen.headers.length, 1)
  const [status, watched] = seen.headers[0] as [number, IncomingHttpHeaders]
  t.assert.strictEqual(status, 200)
  t.assert.strictEqual(watched['x-ratelimit-remaining'], '7')
  t.assert.deepStrictEqual(watched['set-cookie'], ['a=1', 'b=2'])
  t.assert.ok(!(kDispatchWatcher.toString() in origin.requests[0]!.headers), 'the symbol is never sent')

  // Without a watcher the request goes through untouched.
  const plain = await pool.request({ method: 'GET', path: '/' })
  t.assert.strictEqual(await plain.body.text(), 'ok')
  t.assert.strictEqual(seen.dispatched, 1)
})

test('the attempt handed to the watcher stops a request in flight; the caller gets the reason', async (t: TestContext) => {
  let closed!: () => void
  const upstreamClosed = new Promise<void>((resolve) => { closed = resolve })
  const origin = await startOrigin(t, (_req, res) => { res.on('close', closed) })
  const pool = upstreamDispatcher(origin.url, 10_000)
  t.after(async () => { await pool.destroy() })
  const seen: Seen = { dispatched: 0, headers: [] }
  let attempt: Attempt | undefined
  const pending = pool.request({ method: 'GET', path: '/', headers: { [kDispatchWatcher]: watcher(seen, (a) => { attempt = a }) } as never })
  while (origin.requests.length === 0) await new Promise((resolve) => setTimeout(resolve, 5))
  attempt?.abort(new Error('the client went away'))
  await t.assert.rejects(pending, /the client went away/)
  await upstreamClosed
  t.assert.strictEqual(seen.headers.length, 0)
})

test('a silent upstream: HeadersTimeoutError at the deadline, on a native timer (undici\'s own headersTimeout fires up to a second late)', async (t: TestContext) => {
  const origin = await startOrigin(t, () => {})
  const pool = upstreamDispatcher(origin.url, 200)
  t.after(async () => { await pool.destroy() })
  const seen: Seen = { dispatched: 0, headers: [] }
  const started = performance.now()
  await t.assert.rejects(pool.request({ method: 'GET', path: '/', headers: { [kDispatchWatcher]: watcher(seen) } as never }), errors.HeadersTimeoutError)
  const elapsed = performance.now() - started
  t.assert.ok(elapsed >= 190 && elapsed < 500, `timed out after ${elapsed.toFixed(0)} ms`)
})

test('an attempt aborted before it goes out is never sent', async (t: TestContext) => {
  const origin = await startOrigin(t, (_req, res) => { res.end('ok') })
  const pool = upstreamDispatcher(origin.url, 10_000)
  t.after(async () => { await pool.destroy() })
  const seen: Seen = { dispatched: 0, headers: [] }
  const pending = pool.request({ method: 'GET', path: '/', headers: { [kDispatchWatcher]: watcher(seen, (a) => { a.abort(new Error('the client went away')) }) } as never })
  await t.assert.rejects(pending, /the client went away/)
  const ok = await pool.request({ method: 'GET', path: '/' })
  t.assert.strictEqual(await ok.body.text(), 'ok')
  t.assert.strictEqual(origin.requests.length, 1, 'only the request that was not aborted reached the origin')
})
