import { once } from 'node:events'
import { request, type IncomingMessage } from 'node:http'
import { test, type TestContext } from 'node:test'
import { startOrigin, type Origin } from '../helpers/origin.js'
import { startSidecar } from '../helpers/sidecar.js'

/** Resolves once `check` holds, polling on the event loop; rejects after `ms`. */
async function until (check: () => boolean, ms = 2000): Promise<void> {
  const deadline = performance.now() + ms
  while (!check()) {
    if (performance.now() > deadline) throw new Error('condition not met in time')
    await new Promise((resolve) => setImmediate(resolve))
  }
}

async function readAll (res: IncomingMessage): Promise<string> {
  let text = ''
  for await (const chunk of res) text += String(chunk)
  return text
}

test('a request body is streamed: the origin has the first bytes before the client sends the last', async (t: TestContext) => {
  t.plan(5)
  const origin = await startOrigin(t, (req, res, recorded) => {
    req.on('end', () => res.end(`received ${recorded.body.length}`))
  })
  const { url } = await startSidecar(t, { upstreams: { up: { target: origin.url } } })
  for (const method of ['POST', 'PUT']) {
    const before = origin.requests.length
    const req = request(`${url}/up/upload`, { method, headers: { 'transfer-encoding': 'chunked', 'content-type': 'application/octet-stream' } })
    req.write(Buffer.alloc(1000, 'a'))
    // The last chunk is written only once the origin has seen bytes of the first.
    await until(() => origin.requests[before]?.firstByteAt !== undefined)
    const lastSentAt = performance.now()
    req.end(Buffer.alloc(1000, 'b'))
    const [res] = await once(req, 'response') as [IncomingMessage]
    t.assert.strictEqual(`${res.statusCode ?? 0} ${await readAll(res)}`, '200 received 2000', method)
    t.assert.ok((origin.requests[before]?.firstByteAt ?? Infinity) < lastSentAt)
  }
  t.assert.strictEqual(origin.requests.length, 2)
})

test('a response body is streamed: the client reads the first chunk before the origin ends', async (t: TestContext) => {
  t.plan(3)
  let finish: (() => void) | undefined
  const origin: Origin = await startOrigin(t, (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' })
    res.write('first;')
    finish = () => res.end('last')
  })
  const { url } = await startSidecar(t, { upstreams: { up: { target: origin.url } } })
  const req = request(`${url}/up/download`)
  req.end()
  const [res] = await once(req, 'response') as [IncomingMessage]
  t.assert.strictEqual(res.statusCode, 200)
  const [first] = await once(res, 'data') as [Buffer]
  t.assert.strictEqual(first.toString(), 'first;', 'read while the origin is still writing')
  finish?.()
  t.assert.strictEqual(await readAll(res), 'last')
})

test('a body over bodyLimit with content-length is refused with 413 before anything is sent', async (t: TestContext) => {
  t.plan(4)
  const origin = await startOrigin(t)
  const { url } = await startSidecar(t, { upstreams: { up: { target: origin.url, bodyLimit: '1kb' } } })
  const res = await fetch(`${url}/up/upload`, { method: 'POST', body: 'x'.repeat(1025) })
  t.assert.strictEqual(res.status, 413)
  t.assert.strictEqual(res.headers.get('content-type'), 'application/problem+json; charset=utf-8')
  t.assert.strictEqual(((await res.json()) as { code: string }).code, 'TG_BODY_TOO_LARGE')
  t.assert.strictEqual(origin.requests.length, 0)
})

test('a chunked body that grows over bodyLimit aborts the upstream request; the client gets 413', async (t: TestContext) => {
  t.plan(4)
  let upstreamAborted = false
  const origin = await startOrigin(t, (req, res) => {
    req.on('error', () => { upstreamAborted = true })
    req.on('end', () => res.end('should not complete'))
  })
  const { url } = await startSidecar(t, { upstreams: { up: { target: origin.url, bodyLimit: '1kb' } } })
  const req = request(`${url}/up/upload`, { method: 'POST', headers: { 'transfer-encoding': 'chunked' } })
  const outcome = new Promise<string>((resolve) => {
    req.on('response', (res) => { readAll(res).then((body) => resolve(`${res.statusCode ?? 0} ${body}`), () => resolve('response aborted')) })
    req.on('error', (err) => resolve(`closed: ${err.message}`))
  })
  req.write(Buffer.alloc(600, 'a'))
  await until(() => origin.requests[0]?.firstByteAt !== undefined)
  req.end(Buffer.alloc(600, 'b'))
  const result = await outcome
  t.assert.match(result, /^413 /, 'the client is told the body was too large')
  t.assert.match(result, /TG_BODY_TOO_LARGE/)
  await until(() => upstreamAborted)
  t.assert.ok(upstreamAborted, 'the upstream request was aborted, not completed')
  t.assert.ok((origin.requests[0]?.body.length ?? 0) <= 1024, 'the origin never got more than the limit')
})
