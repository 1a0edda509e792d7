/**
 * Issue 19 parts 6 and 8: the token fetch as its own CLIENT span (Envoy's
 * users ask for it, envoyproxy/envoy#41343). A child of the request that
 * started it, linked from the SERVER span of every other request that waited
 * for it; a root span for a background refresh. Exported as http/protobuf
 * (the default) and decoded by the receiver.
 */
import { test, type TestContext } from 'node:test'
import { startOtlpReceiver, type ReceivedSpan } from '../helpers/otlp-receiver.js'
import { startOrigin } from '../helpers/origin.js'
import { startSidecar } from '../helpers/sidecar.js'
import { startTokenEndpoint, tokenReply } from '../helpers/token-endpoint.js'

const SERVER = 2

/** `promise`, or a rejection naming `what` after `ms`. */
async function within<T> (promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_resolve, reject) => { timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms) })
  try {
    return await Promise.race([promise, timeout])
  } finally {
    clearTimeout(timer)
  }
}

function tokenSpans (spans: readonly ReceivedSpan[]): ReceivedSpan[] {
  return spans.filter((span) => span.attributes['http.request.method'] === 'POST' && span.attributes['tollgate.upstream'] === 'vendor' && span.kind === 3)
}

test('the request that starts a token fetch is its parent; the requests that wait for it link to it', async (t: TestContext) => {
  t.plan(11)
  const receiver = await startOtlpReceiver(t)
  let release: () => void = () => {}
  const released = new Promise<void>((resolve) => { release = resolve })
  const tokens = await startTokenEndpoint(t, async () => {
    await released
    return tokenReply('shared-fetch-token', 3600)
  })
  const origin = await startOrigin(t)
  const running = await startSidecar(t, {
    telemetry: { endpoint: receiver.url },
    upstreams: { vendor: { target: origin.url, auth: { type: 'oauth2_client_credentials', tokenUrl: tokens.url, clientId: 'id', clientSecret: 'shared-fetch-secret' } } }
  })

  const first = fetch(`${running.url}/vendor/a`)
  await within(tokens.waitForRequests(1), 5000, 'the token request')
  const others = [fetch(`${running.url}/vendor/b`), fetch(`${running.url}/vendor/c`)]
  // All three exchanges made, then a moment for their preHandlers to ask for the token.
  const runtime = running.sidecar.upstreams[0]
  await within((async () => { while ((runtime?.activity.count ?? 0) < 3) await new Promise((resolve) => setTimeout(resolve, 5)) })(), 5000, 'three requests in the sidecar')
  await new Promise((resolve) => setTimeout(resolve, 50))
  release()
  const statuses = await Promise.all([first, ...others].map(async (pending) => {
    const res = await pending
    await res.arrayBuffer()
    return res.status
  }))
  t.assert.deepStrictEqual(statuses, [200, 200, 200])
  t.assert.strictEqual(tokens.requests.length, 1, 'one fetch for all three (single flight)')

  await running.sidecar.tracing?.flush()
  const spans = await receiver.waitForSpans(7)
  t.assert.ok(receiver.exports.every((e) => e.contentType === 'application/x-protobuf'), 'http/protobuf by default')
  const [token, ...more] = tokenSpans(spans)
  t.assert.strictEqual(more.length, 0)
  if (token === undefined) throw new Error('no token span')
  const servers = spans.filter((span) => span.kind === SERVER)
  t.assert.strictEqual(servers.length, 3)
  const starter = servers.find((span) => span.spanId === token.parentSpanId)
  t.assert.ok(starter !== undefined, 'the token span is a child of one request')
  t.assert.strictEqual(starter?.attributes['url.path'], '/vendor/a')
  t.assert.strictEqual(token.traceId, starter?.traceId)
  t.assert.strictEqual(token.attributes['tollgate.token.trigger'], 'request')
  t.assert.deepStrictEqual(starter?.links, [], 'the starter is the parent, not a link')
  const waiters = servers.filter((span) => span !== starter)
  t.assert.deepStrictEqual(waiters.map((span) => span.links.map((link) => [link.traceId, link.spanId, link.attributes['tollgate.link']])),
    [[[token.traceId, token.spanId, 'waited for token fetch']], [[token.traceId, token.spanId, 'waited for token fetch']]])
})

test('a background refresh is a root span of its own', async (t: TestContext) => {
  t.plan(6)
  const receiver = await startOtlpReceiver(t)
  // 2 s to live: refreshed in the background after 1 s (refreshBefore capped at half the lifetime).
  const tokens = await startTokenEndpoint(t, (_request, index) => tokenReply(`refresh-token-${index}`, 2))
  const origin = await startOrigin(t)
  const running = await startSidecar(t, {
    telemetry: { endpoint: receiver.url },
    upstreams: { vendor: { target: origin.url, auth: { type: 'oauth2_client_credentials', tokenUrl: tokens.url, clientId: 'id', clientSecret: 'refresh-secret' } } }
  })
  const res = await fetch(`${running.url}/vendor/a`)
  t.assert.strictEqual(res.status, 200)
  await res.arrayBuffer()
  await within(tokens.waitForRequests(2), 5000, 'the background refresh')
  // The refresh's answer is read and its span ended before the token is taken up.
  await within((async () => { while (running.sidecar.upstreams[0]?.credentials.status().fetches?.ok !== 2) await new Promise((resolve) => setTimeout(resolve, 5)) })(), 5000, 'the refresh to finish')
  await running.sidecar.tracing?.flush()
  const spans = await receiver.waitForSpans(4)
  const refresh = tokenSpans(spans).find((span) => span.attributes['tollgate.token.trigger'] === 'refresh')
  t.assert.ok(refresh !== undefined, 'a token span for the refresh')
  t.assert.strictEqual(refresh?.parentSpanId, '', 'a root span')
  const server = spans.find((span) => span.kind === SERVER)
  t.assert.notStrictEqual(refresh?.traceId, server?.traceId, 'a trace of its own')
  t.assert.strictEqual(refresh?.attributes['http.response.status_code'], 200)
  const refreshParent = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/.exec(String(tokens.requests[1]?.headers.traceparent))
  t.assert.strictEqual(refreshParent?.[2], refresh?.spanId, 'the token endpoint gets the refresh span as parent')
})
