/**
 * A text/plain request body is proxied like any other: streamed byte for
 * byte (no charset decoding), and, kept for replay, sent again after a 401.
 * Fastify parses text/plain into a string by default; the proxy must not.
 */
import { test, type TestContext } from 'node:test'
import { startSidecar } from '../helpers/sidecar.js'
import { startOrigin } from '../helpers/origin.js'
import { startTokenEndpoint, tokenReply } from '../helpers/token-endpoint.js'

test('a text/plain body that is not UTF-8 reaches the upstream byte for byte, with its content-type', async (t: TestContext) => {
  t.plan(3)
  const origin = await startOrigin(t)
  const sidecar = await startSidecar(t, { log: { level: 'warn' }, upstreams: { a: { target: origin.url } } })
  const bytes = Buffer.from([0x68, 0xe9, 0xff, 0x00, 0x41])
  const res = await fetch(`${sidecar.url}/a/notes`, { method: 'POST', headers: { 'content-type': 'text/plain; charset=latin1' }, body: bytes, signal: AbortSignal.timeout(4000) })
  await res.arrayBuffer()
  t.assert.strictEqual(res.status, 200)
  t.assert.deepStrictEqual([...origin.requests.at(-1)?.body ?? []], [...bytes])
  t.assert.strictEqual(origin.requests.at(-1)?.headers['content-type'], 'text/plain; charset=latin1')
})

test('a PUT with a text/plain body answered 401 is sent again with its body and a fresh token', async (t: TestContext) => {
  t.plan(4)
  let answered = 0
  // The first request confirms the first token; the second (the PUT) gets one 401, then 200.
  const origin = await startOrigin(t, (req, res) => {
    req.resume()
    req.on('end', () => {
      answered++
      if (answered === 2) res.writeHead(401).end('expired')
      else res.end('ok')
    })
  })
  const tokens = await startTokenEndpoint(t, (_request, index) => tokenReply(`text-plain-token-${index}`, 3600))
  const sidecar = await startSidecar(t, {
    log: { level: 'warn' },
    upstreams: { a: { target: origin.url, auth: { type: 'oauth2_client_credentials', tokenUrl: tokens.url, clientId: 'id', clientSecret: 'text-plain-secret' } } }
  })
  await (await fetch(`${sidecar.url}/a/warm`, { signal: AbortSignal.timeout(4000) })).arrayBuffer()
  const res = await fetch(`${sidecar.url}/a/notes/1`, { method: 'PUT', headers: { 'content-type': 'text/plain' }, body: 'the note', signal: AbortSignal.timeout(4000) })
  const body = await res.text()
  t.assert.strictEqual(res.status, 200, body)
  const puts = origin.requests.filter((r) => r.method === 'PUT')
  t.assert.deepStrictEqual(puts.map((r) => r.body.toString()), ['the note', 'the note'])
  t.assert.deepStrictEqual(puts.map((r) => r.headers.authorization), ['Bearer text-plain-token-0', 'Bearer text-plain-token-1'])
  t.assert.deepStrictEqual(puts.map((r) => r.headers['content-type']), ['text/plain', 'text/plain'])
})
