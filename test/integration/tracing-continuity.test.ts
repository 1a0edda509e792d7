/**
 * Issue 19 parts 6 and 8: one trace from the app to the vendor. The app's
 * traceparent is continued by the SERVER span; the attempt is its CLIENT
 * child and the vendor gets that span as its parent; the token fetch the
 * request started is its child too, and the token endpoint gets the token
 * span as parent. The request's log line names the trace and the span.
 * Exported as http/json to a loopback receiver that decodes it.
 */
import { test, type TestContext } from 'node:test'
import { startOtlpReceiver } from '../helpers/otlp-receiver.js'
import { startOrigin } from '../helpers/origin.js'
import { startSidecar } from '../helpers/sidecar.js'
import { startTokenEndpoint, tokenReply } from '../helpers/token-endpoint.js'

const APP_TRACE = '4bf92f3577b34da6a3ce929d0e0e4736'
const APP_SPAN = '00f067aa0ba902b7'
const SERVER = 2
const CLIENT = 3
const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/

test('the app\'s trace continues through tollgate to the vendor and the token endpoint', async (t: TestContext) => {
  t.plan(24)
  const receiver = await startOtlpReceiver(t)
  const tokens = await startTokenEndpoint(t, () => tokenReply('continuity-access-token', 3600))
  const origin = await startOrigin(t)
  const running = await startSidecar(t, {
    telemetry: { endpoint: receiver.url, protocol: 'http/json' },
    upstreams: {
      vendor: {
        target: `${origin.url}/base`,
        auth: { type: 'oauth2_client_credentials', tokenUrl: tokens.url, clientId: 'continuity-client', clientSecret: 'continuity-client-secret' }
      }
    }
  })

  const res = await fetch(`${running.url}/vendor/Patient?family=Smith&birthdate=1970-01-01`, {
    headers: { traceparent: `00-${APP_TRACE}-${APP_SPAN}-01`, tracestate: 'app=1' }
  })
  t.assert.strictEqual(res.status, 200)
  await res.arrayBuffer()
  await running.sidecar.tracing?.flush()
  const spans = await receiver.waitForSpans(3)
  t.assert.strictEqual(spans.length, 3, 'a SERVER span, the attempt and the token fetch')
  t.assert.deepStrictEqual(receiver.exports.map((e) => [e.path, e.contentType]), [['/v1/traces', 'application/json']])

  const server = spans.find((span) => span.kind === SERVER)
  const attempt = spans.find((span) => span.kind === CLIENT && span.attributes['http.request.method'] === 'GET')
  const token = spans.find((span) => span.kind === CLIENT && span.attributes['http.request.method'] === 'POST')
  if (server === undefined || attempt === undefined || token === undefined) throw new Error(`missing spans: ${JSON.stringify(spans.map((s) => s.name))}`)

  // The app's trace, continued: same trace id, the app's span as parent.
  t.assert.strictEqual(server.traceId, APP_TRACE)
  t.assert.strictEqual(server.parentSpanId, APP_SPAN)
  t.assert.strictEqual(server.name, 'GET /vendor/*')
  t.assert.strictEqual(server.attributes['http.route'], '/vendor/*')
  t.assert.strictEqual(server.attributes['url.query'], 'family=REDACTED&birthdate=REDACTED')
  t.assert.strictEqual(server.attributes['http.response.status_code'], 200)
  t.assert.strictEqual(server.resource['service.name'], 'tollgate')

  // The attempt: a child of the SERVER span, its URL as sent with the query values REDACTED.
  t.assert.strictEqual(attempt.traceId, APP_TRACE)
  t.assert.strictEqual(attempt.parentSpanId, server.spanId)
  t.assert.strictEqual(attempt.attributes['url.full'], `${origin.url}/base/Patient?family=REDACTED&birthdate=REDACTED`)
  t.assert.strictEqual(attempt.attributes['server.port'], Number(new URL(origin.url).port))
  t.assert.strictEqual(attempt.attributes['http.request.resend_count'], undefined, 'a first attempt is no resend')

  // The vendor's parent is the attempt's span, in the app's trace; the app's tracestate passes on.
  const sent = origin.requests[0]
  const vendorParent = TRACEPARENT.exec(String(sent?.headers.traceparent))
  t.assert.strictEqual(vendorParent?.[1], APP_TRACE)
  t.assert.strictEqual(vendorParent?.[2], attempt.spanId)
  t.assert.strictEqual(sent?.headers.tracestate, 'app=1')

  // The token fetch this request started: its child, and the token endpoint's parent.
  t.assert.strictEqual(token.parentSpanId, server.spanId)
  t.assert.strictEqual(token.attributes['url.full'], tokens.url)
  t.assert.strictEqual(token.attributes['tollgate.token.trigger'], 'request')
  const tokenParent = TRACEPARENT.exec(String(tokens.requests[0]?.headers.traceparent))
  t.assert.strictEqual(tokenParent?.[2], token.spanId)

  // The request's one log line names its trace and its span.
  const line = running.logs.entries().find((entry) => entry.msg === 'request completed')
  t.assert.strictEqual(line?.traceId, APP_TRACE)
  t.assert.strictEqual(line?.spanId, server.spanId)
})

test('a request the app did not sample: nothing is exported, the vendor still gets the app\'s trace unsampled, and then a sampled one is whole', async (t: TestContext) => {
  t.plan(9)
  const receiver = await startOtlpReceiver(t)
  const origin = await startOrigin(t)
  const running = await startSidecar(t, {
    // The default sampler, parentbased_always_on: the app's decision stands.
    telemetry: { endpoint: receiver.url, protocol: 'http/json' },
    upstreams: { vendor: { target: `${origin.url}/base`, auth: { type: 'none' } } }
  })

  const unsampled = await fetch(`${running.url}/vendor/Patient?family=Smith`, { headers: { traceparent: `00-${APP_TRACE}-${APP_SPAN}-00` } })
  t.assert.strictEqual(unsampled.status, 200)
  await unsampled.arrayBuffer()
  await running.sidecar.tracing?.flush()
  t.assert.strictEqual(receiver.exports.length, 0, 'no span of an unsampled trace is exported')
  const sent = /^00-([0-9a-f]{32})-([0-9a-f]{16})-(0[01])$/.exec(String(origin.requests[0]?.headers.traceparent))
  t.assert.strictEqual(sent?.[1], APP_TRACE, 'the vendor is in the app\'s trace')
  t.assert.strictEqual(sent?.[3], '00', 'and told it is not sampled')

  const sampled = await fetch(`${running.url}/vendor/Patient?family=Jones`, { headers: { traceparent: `00-${APP_TRACE}-${APP_SPAN}-01` } })
  await sampled.arrayBuffer()
  await running.sidecar.tracing?.flush()
  const spans = await receiver.waitForSpans(2)
  const server = spans.find((span) => span.kind === SERVER)
  const attempt = spans.find((span) => span.kind === CLIENT)
  t.assert.strictEqual(spans.length, 2)
  t.assert.strictEqual(server?.name, 'GET /vendor/*')
  t.assert.strictEqual(server?.attributes['url.query'], 'family=REDACTED')
  t.assert.strictEqual(attempt?.attributes['url.full'], `${origin.url}/base/Patient?family=REDACTED`)
  t.assert.strictEqual(attempt?.attributes['http.request.method'], 'GET')
})
