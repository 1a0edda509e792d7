import { test, type TestContext } from 'node:test'
import { request as httpRequest } from 'node:http'
import { startOrigin } from '../helpers/origin.js'
import { startSidecar } from '../helpers/sidecar.js'

test('beyond maxQueue: 503 problem with a Retry-After from the limiter state', async (t: TestContext) => {
  const origin = await startOrigin(t)
  const sidecar = await startSidecar(t, {
    upstreams: { vendor: { target: origin.url, rateLimit: { requests: 1, window: '2s', maxQueue: 2, maxWait: '5s' } } }
  })
  t.assert.strictEqual((await fetch(`${sidecar.url}/vendor/a`)).status, 200)
  const controller = new AbortController()
  const queued = [fetch(`${sidecar.url}/vendor/b`, { signal: controller.signal }), fetch(`${sidecar.url}/vendor/c`, { signal: controller.signal })]
  await waitFor(() => sidecar.sidecar.upstreams[0]?.limiter.status().queued === 2)
  const refused = await fetch(`${sidecar.url}/vendor/d`)
  t.assert.strictEqual(refused.status, 503)
  t.assert.strictEqual(refused.headers.get('content-type'), 'application/problem+json; charset=utf-8')
  const retryAfter = Number(refused.headers.get('retry-after'))
  t.assert.ok(retryAfter >= 1 && retryAfter <= 2, `retry-after ${retryAfter}`)
  const problem = await refused.json() as Record<string, unknown>
  t.assert.strictEqual(problem.code, 'TG_QUEUE_FULL')
  t.assert.strictEqual(problem.upstream, 'vendor')
  controller.abort()
  await Promise.allSettled(queued)
  t.assert.strictEqual(origin.requests.length, 1)
})

test('a request queued longer than maxWait gets 503 TG_QUEUE_TIMEOUT and never reaches the upstream', async (t: TestContext) => {
  const origin = await startOrigin(t)
  const sidecar = await startSidecar(t, {
    upstreams: { vendor: { target: origin.url, rateLimit: { requests: 1, window: '3s', maxWait: '300ms' } } }
  })
  t.assert.strictEqual((await fetch(`${sidecar.url}/vendor/a`)).status, 200)
  const started = performance.now()
  const late = await fetch(`${sidecar.url}/vendor/b`)
  const waited = performance.now() - started
  t.assert.strictEqual(late.status, 503)
  t.assert.strictEqual((await late.json() as Record<string, unknown>).code, 'TG_QUEUE_TIMEOUT')
  t.assert.ok(late.headers.get('retry-after') !== null)
  t.assert.ok(waited >= 280 && waited < 1500, `waited ${waited} ms`)
  t.assert.strictEqual(origin.requests.length, 1)
})

test('an app that disconnects while queued frees its place: no upstream request, no leaked slot', async (t: TestContext) => {
  const origin = await startOrigin(t)
  const sidecar = await startSidecar(t, {
    upstreams: { vendor: { target: origin.url, rateLimit: { requests: 1, window: '600ms', maxConcurrent: 1 } } }
  })
  const limiter = sidecar.sidecar.upstreams[0]?.limiter
  t.assert.ok(limiter !== undefined)
  t.assert.strictEqual((await fetch(`${sidecar.url}/vendor/first`)).status, 200)
  // A raw request we can cut while it waits in the queue.
  const port = new URL(sidecar.url).port
  const gone = httpRequest({ host: '127.0.0.1', port, path: '/vendor/gone' })
  gone.on('error', () => {})
  gone.end()
  await waitFor(() => limiter.status().queued === 1)
  gone.destroy()
  await waitFor(() => limiter.status().queued === 0)
  t.assert.strictEqual(limiter.status().running, 0, 'no slot leaked')
  await new Promise((resolve) => setTimeout(resolve, 700))
  t.assert.strictEqual((await fetch(`${sidecar.url}/vendor/next`)).status, 200, 'the freed slot serves the next request')
  t.assert.deepStrictEqual(origin.requests.map((request) => request.url), ['/first', '/next'])
  t.assert.strictEqual(limiter.status().running, 0)
})

test('maxConcurrent holds a slot until the upstream response has ended', async (t: TestContext) => {
  let active = 0
  let peak = 0
  const origin = await startOrigin(t, (req, res) => {
    active++
    peak = Math.max(peak, active)
    res.writeHead(200, { 'content-type': 'text/plain' })
    res.write('first part ')
    setTimeout(() => { active--; res.end('last part') }, 80)
    req.resume()
  })
  const sidecar = await startSidecar(t, {
    upstreams: { vendor: { target: origin.url, rateLimit: { requests: 1000, window: '1s', maxConcurrent: 2 } } }
  })
  const bodies = await Promise.all(Array.from({ length: 6 }, async () => (await fetch(`${sidecar.url}/vendor/slow`)).text()))
  t.assert.deepStrictEqual(new Set(bodies), new Set(['first part last part']))
  t.assert.strictEqual(peak, 2)
  t.assert.strictEqual(sidecar.sidecar.upstreams[0]?.limiter.status().running, 0)
})

async function waitFor (condition: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = performance.now() + timeoutMs
  while (!condition()) {
    if (performance.now() > deadline) throw new Error('condition not reached in time')
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}
