/* eslint-disable no-template-curly-in-string -- ${VAR} is the config syntax the sidecar interpolates */
import type { IncomingHttpHeaders } from 'node:http'
import { test, type TestContext } from 'node:test'
import { startOrigin, type RecordedRequest } from '../helpers/origin.js'
import { rawRequest } from '../helpers/raw-http.js'
import { startSidecar } from '../helpers/sidecar.js'

/** An origin that records and answers 200 with a fixed body. */
async function recorder (t: TestContext): Promise<{ url: string, requests: RecordedRequest[] }> {
  return await startOrigin(t, (req, res) => { req.on('end', () => res.end('ok')).resume() })
}

test('method, body and end-to-end headers pass through; hop-by-hop headers do not', async (t: TestContext) => {
  t.plan(12)
  const origin = await recorder(t)
  const { url } = await startSidecar(t, { upstreams: { halaxy: { target: `${origin.url}/main` } } })
  const body = '{"resourceType":"Patient"}'
  const res = await rawRequest(url, [
    'PATCH /halaxy/Patient/1 HTTP/1.1',
    'Content-Type: application/fhir+json',
    'X-End-To-End: kept',
    'If-Match: W/"3"',
    'Cookie: a=1',
    'Keep-Alive: timeout=5',
    'TE: trailers',
    'Trailer: X-Checksum',
    'Upgrade: h2c',
    'Proxy-Authorization: Basic cHJveHk6c2VjcmV0',
    'Proxy-Connection: keep-alive',
    'X-Named-In-Connection: drop-me',
    'Connection: X-Named-In-Connection'
  ].join('\r\n'), body)
  t.assert.strictEqual(res.status, 200, res.body)
  const seen = origin.requests[0] as RecordedRequest
  t.assert.strictEqual(seen.method, 'PATCH')
  t.assert.strictEqual(seen.body.toString(), body)
  t.assert.strictEqual(seen.headers['content-type'], 'application/fhir+json')
  t.assert.strictEqual(seen.headers['x-end-to-end'], 'kept')
  t.assert.strictEqual(seen.headers['if-match'], 'W/"3"')
  t.assert.strictEqual(seen.headers.cookie, 'a=1')
  const dropped = ['keep-alive', 'te', 'trailer', 'upgrade', 'proxy-authorization', 'proxy-connection', 'x-named-in-connection']
  t.assert.deepStrictEqual(dropped.filter((name) => seen.headers[name] !== undefined), [], 'hop-by-hop headers reached the origin')
  t.assert.notStrictEqual(seen.headers.connection, 'X-Named-In-Connection')
  t.assert.strictEqual(seen.headers.host, new URL(origin.url).host, 'Host is the upstream\'s')
  t.assert.strictEqual(seen.headers['content-length'], String(body.length))
  t.assert.strictEqual(seen.headers['transfer-encoding'], undefined)
})

test('the app\'s Authorization is dropped: none sends none, static_bearer sends Bearer <token>', async (t: TestContext) => {
  t.plan(3)
  const origin = await recorder(t)
  const { url } = await startSidecar(t, {
    upstreams: {
      open: { target: origin.url },
      bearer: { target: origin.url, auth: { type: 'static_bearer', token: '${STATIC_TOKEN}' } }
    }
  }, { STATIC_TOKEN: 'static-token-4711' })
  const headers = { authorization: 'Bearer from-the-app', 'x-tollgate-token': 'app-sent-this' }
  await fetch(`${url}/open/x`, { headers })
  await fetch(`${url}/bearer/x`, { headers })
  t.assert.strictEqual(origin.requests[0]?.headers.authorization, undefined)
  t.assert.strictEqual(origin.requests[1]?.headers.authorization, 'Bearer static-token-4711')
  t.assert.strictEqual(origin.requests[1]?.headers['x-tollgate-token'], undefined, 'the inbound token header is tollgate\'s, never forwarded')
})

test('configured headers overwrite the app\'s, case-insensitively', async (t: TestContext) => {
  t.plan(4)
  const origin = await recorder(t)
  const { url } = await startSidecar(t, {
    upstreams: { halaxy: { target: origin.url, headers: { 'User-Agent': 'Acme Clinic Sync (dev@acme.example)', ACCEPT: 'application/fhir+json', 'x-Vendor': 'configured' } } }
  })
  await rawRequest(url, 'GET /halaxy/x HTTP/1.1\r\nuser-agent: app/1.0\r\nAccept: text/html\r\nX-VENDOR: from-app\r\nx-other: app')
  const seen = origin.requests[0]?.headers as IncomingHttpHeaders
  t.assert.strictEqual(seen['user-agent'], 'Acme Clinic Sync (dev@acme.example)')
  t.assert.strictEqual(seen.accept, 'application/fhir+json')
  t.assert.strictEqual(seen['x-vendor'], 'configured')
  t.assert.strictEqual(seen['x-other'], 'app')
})

test('the upstream\'s status, headers and body come back unchanged', async (t: TestContext) => {
  t.plan(8)
  const payload = Buffer.from(Array.from({ length: 256 }, (_, i) => i))
  const origin = await startOrigin(t, (_req, res) => {
    res.writeHead(418, 'I\'m a teapot', {
      'content-type': 'application/octet-stream',
      'x-custom': 'value',
      'set-cookie': ['a=1; Path=/', 'b=2; HttpOnly'],
      etag: '"abc"',
      'cache-control': 'no-store',
      'keep-alive': 'timeout=99'
    })
    res.end(payload)
  })
  const { url } = await startSidecar(t, { upstreams: { halaxy: { target: origin.url } } })
  const res = await fetch(`${url}/halaxy/pot`)
  t.assert.strictEqual(res.status, 418)
  t.assert.strictEqual(res.headers.get('content-type'), 'application/octet-stream')
  t.assert.strictEqual(res.headers.get('x-custom'), 'value')
  t.assert.deepStrictEqual(res.headers.getSetCookie(), ['a=1; Path=/', 'b=2; HttpOnly'])
  t.assert.strictEqual(res.headers.get('etag'), '"abc"')
  t.assert.strictEqual(res.headers.get('cache-control'), 'no-store')
  t.assert.notStrictEqual(res.headers.get('keep-alive'), 'timeout=99', 'the upstream\'s hop-by-hop keep-alive is not passed back')
  t.assert.deepStrictEqual(Buffer.from(await res.arrayBuffer()), payload)
})

test('headers the upstream\'s Connection header names are not passed back (RFC 9110 §7.6.1)', async (t: TestContext) => {
  t.plan(4)
  const origin = await startOrigin(t, (_req, res) => {
    res.writeHead(200, { connection: 'keep-alive, X-Hop-Only', 'x-hop-only': 'for the proxy', 'proxy-authenticate': 'Basic realm="upstream proxy"', 'x-end-to-end': 'kept' })
    res.end('ok')
  })
  const { url } = await startSidecar(t, { upstreams: { halaxy: { target: origin.url } } })
  const res = await fetch(`${url}/halaxy/hop`)
  t.assert.strictEqual(res.status, 200)
  t.assert.strictEqual(res.headers.get('x-hop-only'), null)
  t.assert.strictEqual(res.headers.get('proxy-authenticate'), null)
  t.assert.strictEqual(res.headers.get('x-end-to-end'), 'kept')
})

test('a Location inside the base path comes back in the app\'s terms', async (t: TestContext) => {
  t.plan(3)
  const origin = await startOrigin(t, (req, res) => {
    const location = req.url === '/main/outside' ? '/other/1' : req.url === '/main/absolute' ? 'https://elsewhere.example/main/1' : '/main/Patient/1'
    res.writeHead(201, { location }).end()
  })
  const { url } = await startSidecar(t, { upstreams: { halaxy: { target: `${origin.url}/main` } } })
  const get = async (path: string): Promise<string | null> => (await fetch(url + path, { method: 'POST', redirect: 'manual' })).headers.get('location')
  t.assert.strictEqual(await get('/halaxy/Patient'), '/halaxy/Patient/1')
  t.assert.strictEqual(await get('/halaxy/outside'), '/other/1', 'outside the base: untouched')
  t.assert.strictEqual(await get('/halaxy/absolute'), 'https://elsewhere.example/main/1', 'another origin: untouched')
})
