import { test, type TestContext } from 'node:test'
import { startOrigin } from '../helpers/origin.js'
import { parsePrometheus, valueOf } from '../helpers/prometheus.js'
import { startSidecar } from '../helpers/sidecar.js'
import { errorReply, startTokenEndpoint, tokenReply } from '../helpers/token-endpoint.js'

test('/metrics parses as Prometheus text and counts what a scripted run did', async (t: TestContext) => {
  let tokens = 0
  const tokenEndpoint = await startTokenEndpoint(t, () => ++tokens === 1 ? errorReply(503, 'temporarily_unavailable') : tokenReply(`metrics-token-${tokens}`, 600))
  let calls = 0
  const origin = await startOrigin(t, (req, res) => {
    calls++
    req.resume()
    if (req.url === '/limited' && calls % 2 === 1) {
      res.writeHead(429, { 'retry-after': '0' })
      res.end()
      return
    }
    res.writeHead(req.url === '/missing' ? 404 : 200)
    res.end('{}')
  })
  const sidecar = await startSidecar(t, {
    upstreams: {
      vendor: {
        target: origin.url,
        auth: { type: 'oauth2_client_credentials', tokenUrl: tokenEndpoint.url, clientId: 'id', clientSecret: 'metrics-secret-value' },
        rateLimit: { requests: 100, window: '1m', maxQueue: 0 }
      }
    }
  })
  // The first token fetch fails (502); the failure is remembered for ~1 s, then a token comes.
  t.assert.strictEqual((await fetch(`${sidecar.url}/vendor/a`)).status, 502)
  await new Promise((resolve) => setTimeout(resolve, 1100))
  for (let i = 0; i < 3; i++) t.assert.strictEqual((await fetch(`${sidecar.url}/vendor/a`)).status, 200)
  t.assert.strictEqual((await fetch(`${sidecar.url}/vendor/missing`, { method: 'DELETE' })).status, 404)
  t.assert.strictEqual((await fetch(`${sidecar.url}/vendor/limited`)).status, 200, 'a 429 retried transparently')
  t.assert.strictEqual((await fetch(`${sidecar.url}/elsewhere`)).status, 404)

  const res = await fetch(`${sidecar.url}/metrics`)
  t.assert.strictEqual(res.status, 200)
  t.assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/)
  const text = await res.text()
  const samples = parsePrometheus(text)
  const vendor = { upstream: 'vendor' }
  t.assert.strictEqual(valueOf(samples, 'tollgate_requests_total', { ...vendor, method: 'GET', status_class: '2xx' }), 4)
  t.assert.strictEqual(valueOf(samples, 'tollgate_requests_total', { ...vendor, method: 'GET', status_class: '5xx' }), 1)
  t.assert.strictEqual(valueOf(samples, 'tollgate_requests_total', { ...vendor, method: 'DELETE', status_class: '4xx' }), 1)
  t.assert.strictEqual(valueOf(samples, 'tollgate_token_fetches_total', { ...vendor, outcome: 'failed' }), 1)
  t.assert.strictEqual(valueOf(samples, 'tollgate_token_fetches_total', { ...vendor, outcome: 'ok' }), 1)
  t.assert.strictEqual(valueOf(samples, 'tollgate_retries_total', { ...vendor, reason: '429' }), 1)
  t.assert.strictEqual(valueOf(samples, 'tollgate_upstream_429_total', vendor), 1)
  t.assert.strictEqual(valueOf(samples, 'tollgate_limiter_queue_depth', vendor), 0)
  t.assert.strictEqual(valueOf(samples, 'tollgate_request_duration_seconds_count', { ...vendor, phase: 'upstream' }), 5)
  t.assert.strictEqual(valueOf(samples, 'tollgate_request_duration_seconds_count', { ...vendor, phase: 'sidecar' }), 6)
  t.assert.strictEqual(valueOf(samples, 'tollgate_problems_total', { upstream: 'vendor', code: 'TG_TOKEN_FETCH_FAILED' }), 1, 'tollgate\'s own 502 is told apart')
  t.assert.strictEqual(valueOf(samples, 'tollgate_problems_total', { upstream: '', code: 'TG_UPSTREAM_NOT_FOUND' }), 1)
  t.assert.strictEqual(valueOf(samples, 'tollgate_limiter_rejections_total', { ...vendor, reason: 'queue_full' }), 0, 'counters start at zero')
  const expiry = valueOf(samples, 'tollgate_token_expiry_timestamp_seconds', vendor) ?? 0
  t.assert.ok(expiry > Date.now() / 1000 + 500 && expiry < Date.now() / 1000 + 601, `token expiry ${expiry}`)
  t.assert.ok((valueOf(samples, 'tollgate_process_resident_memory_bytes') ?? 0) > 0, 'default process metrics')
  // Bounded labels: no raw path ever becomes a label value.
  t.assert.ok(!samples.some((sample) => Object.values(sample.labels).some((value) => value.includes('/'))))
  t.assert.ok(!text.includes('metrics-secret-value') && !text.includes('metrics-token-'))
})

test('a request still queued when the limiter closes for shutdown counts as a rejection, reason shutting_down', async (t: TestContext) => {
  const origin = await startOrigin(t, (req, res) => {
    req.resume()
    setTimeout(() => res.end('ok'), 300)
  })
  const sidecar = await startSidecar(t, {
    upstreams: { vendor: { target: origin.url, rateLimit: { requests: 100, window: '1m', maxConcurrent: 1 } } }
  })
  const limiter = sidecar.sidecar.upstreams[0]!.limiter
  const first = fetch(`${sidecar.url}/vendor/first`)
  const queued = fetch(`${sidecar.url}/vendor/queued`)
  await waitUntil(() => limiter.status().queued === 1)
  // What closing the sidecar does to each upstream's limiter (src/server.ts, onClose).
  await limiter.close()
  const refused = await queued
  t.assert.strictEqual(refused.status, 503)
  t.assert.strictEqual(((await refused.json()) as { code: string }).code, 'TG_SHUTTING_DOWN')
  t.assert.strictEqual((await first).status, 200, 'the request in flight finishes')
  const samples = parsePrometheus(await (await fetch(`${sidecar.url}/metrics`)).text())
  t.assert.strictEqual(valueOf(samples, 'tollgate_limiter_rejections_total', { upstream: 'vendor', reason: 'shutting_down' }), 1)
})

async function waitUntil (check: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((resolve) => setTimeout(resolve, 10))
}
