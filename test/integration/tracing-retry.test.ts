/**
 * Issue 19 parts 6 and 8: every attempt to the vendor is its own CLIENT
 * span, and a resend carries `http.request.resend_count` (the HTTP
 * conventions' authorization retry: 401, a fresh token, again; and a 429
 * retried after its pause). The pause is the limiter's wait, an event on the
 * request's SERVER span with its duration.
 */
import { test, type TestContext } from 'node:test'
import { startOtlpReceiver } from '../helpers/otlp-receiver.js'
import { startOrigin } from '../helpers/origin.js'
import { startSidecar } from '../helpers/sidecar.js'
import { startTokenEndpoint, tokenReply } from '../helpers/token-endpoint.js'
import { LATE_SLACK_MS } from '../helpers/timing.js'

const SERVER = 2
const CLIENT = 3
const ERROR = 2

test('a 401 answered with a fresh token is resent: the second attempt has http.request.resend_count 1', async (t: TestContext) => {
  t.plan(12)
  const receiver = await startOtlpReceiver(t)
  const tokens = await startTokenEndpoint(t, (_request, index) => tokenReply(`retry-token-${index}`, 3600))
  // The first token works once (so it was good: tollgate trusts it), then the vendor revokes it.
  const revoked = new Set<string>()
  const origin = await startOrigin(t, (req, res) => {
    req.resume()
    const authorization = req.headers.authorization ?? ''
    res.writeHead(revoked.has(authorization) ? 401 : 200).end()
    revoked.add('Bearer retry-token-0')
  })
  const running = await startSidecar(t, {
    telemetry: { endpoint: receiver.url, protocol: 'http/json' },
    upstreams: { vendor: { target: origin.url, auth: { type: 'oauth2_client_credentials', tokenUrl: tokens.url, clientId: 'id', clientSecret: 'retry-secret' } } }
  })
  const warm = await fetch(`${running.url}/vendor/Patient/0`)
  await warm.arrayBuffer()
  const res = await fetch(`${running.url}/vendor/Patient/1`)
  t.assert.strictEqual(res.status, 200)
  await res.arrayBuffer()
  t.assert.strictEqual(origin.requests.length, 3)

  await running.sidecar.tracing?.flush()
  const all = await receiver.waitForSpans(7)
  const server = all.find((span) => span.kind === SERVER && span.attributes['url.path'] === '/vendor/Patient/1')
  const spans = all.filter((span) => span.traceId === server?.traceId)
  const attempts = spans.filter((span) => span.kind === CLIENT && span.attributes['http.request.method'] === 'GET')
    .sort((a, b) => Number(a.startTimeUnixNano - b.startTimeUnixNano))
  t.assert.strictEqual(attempts.length, 2)
  const [first, second] = attempts
  t.assert.strictEqual(first?.attributes['http.request.resend_count'], undefined)
  t.assert.strictEqual(first?.attributes['http.response.status_code'], 401)
  t.assert.strictEqual(first?.attributes['error.type'], '401')
  t.assert.strictEqual(first?.status, ERROR, 'a CLIENT span\'s 4xx is an error')
  t.assert.strictEqual(second?.attributes['http.request.resend_count'], 1)
  t.assert.strictEqual(second?.attributes['http.response.status_code'], 200)
  t.assert.deepStrictEqual(attempts.map((span) => span.parentSpanId), [server?.spanId, server?.spanId])
  // The fetch of the fresh token was started by this request: its child.
  const fetches = spans.filter((span) => span.kind === CLIENT && span.attributes['http.request.method'] === 'POST')
  t.assert.deepStrictEqual(fetches.map((span) => span.parentSpanId), [server?.spanId])
  // Each attempt told the vendor its own span.
  t.assert.deepStrictEqual(origin.requests.slice(1).map((r) => String(r.headers.traceparent).split('-')[2]), attempts.map((span) => span.spanId))
})

test('a 429 is resent after its pause: resend_count 1, and the wait is a tollgate.limiter.wait event with its duration', async (t: TestContext) => {
  t.plan(9)
  const receiver = await startOtlpReceiver(t)
  let answered = 0
  const origin = await startOrigin(t, (req, res) => {
    req.resume()
    if (answered++ === 0) res.writeHead(429, { 'retry-after': '1' }).end()
    else res.writeHead(200).end()
  })
  const running = await startSidecar(t, {
    telemetry: { endpoint: receiver.url, protocol: 'http/json' },
    upstreams: { vendor: { target: origin.url, auth: { type: 'static_bearer', token: 'static-retry-token' } } }
  })
  const res = await fetch(`${running.url}/vendor/Patient/1`)
  t.assert.strictEqual(res.status, 200)
  await res.arrayBuffer()

  await running.sidecar.tracing?.flush()
  const spans = await receiver.waitForSpans(3)
  const server = spans.find((span) => span.kind === SERVER)
  const attempts = spans.filter((span) => span.kind === CLIENT).sort((a, b) => Number(a.startTimeUnixNano - b.startTimeUnixNano))
  t.assert.deepStrictEqual(attempts.map((span) => span.attributes['http.response.status_code']), [429, 200])
  t.assert.deepStrictEqual(attempts.map((span) => span.attributes['http.request.resend_count']), [undefined, 1])
  const waits = server?.events.filter((event) => event.name === 'tollgate.limiter.wait') ?? []
  t.assert.strictEqual(waits.length, 1)
  const wait = waits[0]
  const waitedMs = Number(wait?.attributes['tollgate.limiter.wait_ms'])
  t.assert.ok(waitedMs >= 1000 - LATE_SLACK_MS && waitedMs < 1000 + 10 * LATE_SLACK_MS, `the 1 s pause, not ${waitedMs} ms`)
  t.assert.strictEqual(wait?.attributes['tollgate.limiter.outcome'], 'acquired')
  // The event stands where the wait began: between the two attempts.
  const [first, second] = attempts
  t.assert.ok(first !== undefined && wait !== undefined && wait.timeUnixNano >= first.startTimeUnixNano, 'after the first attempt began')
  t.assert.ok(second !== undefined && wait !== undefined && wait.timeUnixNano <= second.startTimeUnixNano, 'before the second began')
  // The request's log line waitedMs agrees.
  const line = running.logs.entries().find((entry) => entry.msg === 'request completed')
  t.assert.ok(Math.abs(Number(line?.waitedMs) - waitedMs) < LATE_SLACK_MS, 'the log line counts the same wait')
})
