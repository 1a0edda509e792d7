/**
 * Issue 19 part 6: problems as `error.type`, by the HTTP span status rules.
 * A 5xx tollgate answers itself names its TG_* code; one the vendor answers,
 * its status; a failed attempt or token request, what failed; a SERVER
 * span's 4xx is the client's doing (status unset, no error.type), its code
 * kept as tollgate.problem.
 */
import { test, type TestContext } from 'node:test'
import { startOtlpReceiver, type ReceivedSpan } from '../helpers/otlp-receiver.js'
import { startOrigin } from '../helpers/origin.js'
import { freePort } from '../helpers/ports.js'
import { startSidecar } from '../helpers/sidecar.js'
import { errorReply, startTokenEndpoint } from '../helpers/token-endpoint.js'

const SERVER = 2
const CLIENT = 3
const UNSET = 0
const ERROR = 2

test('each problem is an error.type: the token endpoint, an unreachable vendor, a vendor 503, and a 404 that is none', async (t: TestContext) => {
  t.plan(17)
  const receiver = await startOtlpReceiver(t)
  const tokens = await startTokenEndpoint(t, () => errorReply(500, 'server_error'))
  const origin = await startOrigin(t, (req, res) => {
    req.resume()
    res.writeHead(503).end()
  })
  const running = await startSidecar(t, {
    telemetry: { endpoint: receiver.url, protocol: 'http/json' },
    upstreams: {
      tokenless: { target: origin.url, auth: { type: 'oauth2_client_credentials', tokenUrl: tokens.url, clientId: 'id', clientSecret: 'errors-secret' } },
      gone: { target: `http://127.0.0.1:${await freePort()}`, auth: { type: 'static_bearer', token: 'errors-static-token' } },
      failing: { target: origin.url, auth: { type: 'none' } }
    }
  })
  const statuses: number[] = []
  for (const path of ['/tokenless/a', '/gone/a', '/failing/a', '/nowhere/a']) {
    const res = await fetch(`${running.url}${path}`)
    await res.arrayBuffer()
    statuses.push(res.status)
  }
  t.assert.deepStrictEqual(statuses, [502, 502, 503, 404])

  await running.sidecar.tracing?.flush()
  const spans = await receiver.waitForSpans(7)
  const server = (path: string): ReceivedSpan | undefined => spans.find((span) => span.kind === SERVER && span.attributes['url.path'] === path)
  const childOf = (parent: ReceivedSpan | undefined): ReceivedSpan | undefined => spans.find((span) => span.kind === CLIENT && span.parentSpanId === parent?.spanId)

  // The token endpoint answered 500: the request's problem is TG_TOKEN_FETCH_FAILED, the token span's the 500.
  const tokenless = server('/tokenless/a')
  t.assert.strictEqual(tokenless?.attributes['error.type'], 'TG_TOKEN_FETCH_FAILED')
  t.assert.strictEqual(tokenless?.attributes['tollgate.problem'], 'TG_TOKEN_FETCH_FAILED')
  t.assert.strictEqual(tokenless?.status, ERROR)
  const fetch500 = childOf(tokenless)
  t.assert.strictEqual(fetch500?.attributes['http.request.method'], 'POST')
  t.assert.strictEqual(fetch500?.attributes['error.type'], '500')
  t.assert.strictEqual(fetch500?.status, ERROR)

  // Nothing listens: the attempt failed before any answer.
  const gone = server('/gone/a')
  t.assert.strictEqual(gone?.attributes['error.type'], 'TG_UPSTREAM_UNREACHABLE')
  const attempt = childOf(gone)
  t.assert.strictEqual(attempt?.attributes['error.type'], 'TG_UPSTREAM_UNREACHABLE')
  t.assert.strictEqual(attempt?.attributes['http.response.status_code'], undefined)

  // The vendor's own 503 (no retry-after): its status is the error.type of both spans.
  const failing = server('/failing/a')
  t.assert.strictEqual(failing?.attributes['error.type'], '503')
  t.assert.strictEqual(failing?.attributes['tollgate.problem'], undefined, 'the vendor\'s answer, not a problem of tollgate\'s')
  t.assert.strictEqual(childOf(failing)?.attributes['error.type'], '503')

  // No upstream: a 4xx of the SERVER span is no error; its code stays on the span.
  const nowhere = server('/nowhere/a')
  t.assert.strictEqual(nowhere?.name, 'GET')
  t.assert.strictEqual(nowhere?.attributes['tollgate.problem'], 'TG_UPSTREAM_NOT_FOUND')
  t.assert.strictEqual(nowhere?.attributes['error.type'], undefined)
  t.assert.strictEqual(nowhere?.status, UNSET)
})
