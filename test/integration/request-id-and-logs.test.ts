/* eslint-disable no-template-curly-in-string -- ${VAR} is the config syntax the sidecar interpolates */
import { createServer, type AddressInfo } from 'node:net'
import { test, type TestContext } from 'node:test'
import { startOrigin } from '../helpers/origin.js'
import { startSidecar } from '../helpers/sidecar.js'

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

type Entry = Record<string, unknown>

function completed (entries: Entry[]): Entry[] {
  return entries.filter((entry) => entry.msg === 'request completed')
}

test('x-request-id: the app\'s is forwarded and logged; absent or invalid, a uuid is generated', async (t: TestContext) => {
  t.plan(9)
  const origin = await startOrigin(t)
  const { url, logs } = await startSidecar(t, { upstreams: { halaxy: { target: origin.url } } })

  await fetch(`${url}/halaxy/a`, { headers: { 'x-request-id': 'app-req-42.abc:1' } })
  await fetch(`${url}/halaxy/b`)
  await fetch(`${url}/halaxy/c`, { headers: { 'x-request-id': 'has spaces in it' } })
  await fetch(`${url}/halaxy/d`, { headers: { 'x-request-id': 'x'.repeat(500) } })
  await fetch(`${url}/halaxy/e`, { headers: { 'x-request-id': 'evil\u00e9"}{' } })

  const sent = origin.requests.map((r) => r.headers['x-request-id'] as string)
  t.assert.strictEqual(sent[0], 'app-req-42.abc:1')
  for (const id of sent.slice(1)) t.assert.match(id, UUID)
  t.assert.strictEqual(new Set(sent).size, 5, 'each request its own id')

  const lines = completed(logs.entries())
  t.assert.strictEqual(lines.find((line) => line.path === '/halaxy/a')?.requestId, 'app-req-42.abc:1', 'the app\'s id is in the log line')
  t.assert.deepStrictEqual(lines.map((line) => line.requestId), sent, 'every log line carries the id that was forwarded')
  t.assert.ok(!logs.text().includes('has spaces in it'), 'the refused id is not logged as an id')
})

test('one log line per proxied request, with upstream, method, path, status and durationMs', async (t: TestContext) => {
  t.plan(8)
  const origin = await startOrigin(t, (req, res) => { req.resume().on('end', () => res.writeHead(req.method === 'DELETE' ? 204 : 200).end()) })
  const { url, logs } = await startSidecar(t, { upstreams: { halaxy: { target: `${origin.url}/main` } } })
  await (await fetch(`${url}/halaxy/Patient/1?family=secret-query-value`, { method: 'GET' })).arrayBuffer()
  await (await fetch(`${url}/halaxy/Patient/2`, { method: 'DELETE' })).arrayBuffer()
  await (await fetch(`${url}/nowhere`)).arrayBuffer()

  const lines = completed(logs.entries())
  t.assert.strictEqual(lines.length, 3, 'one line each, no more')
  const [get, del, miss] = lines as [Entry, Entry, Entry]
  t.assert.deepStrictEqual(pick(get), { upstream: 'halaxy', method: 'GET', path: '/halaxy/Patient/1', status: 200 })
  t.assert.deepStrictEqual(pick(del), { upstream: 'halaxy', method: 'DELETE', path: '/halaxy/Patient/2', status: 204 })
  t.assert.strictEqual(typeof get.durationMs, 'number')
  t.assert.ok((get.durationMs as number) >= 0)
  t.assert.strictEqual(get.level, 30, 'info')
  t.assert.deepStrictEqual({ method: miss.method, path: miss.path, status: miss.status }, { method: 'GET', path: '/nowhere', status: 404 })
  // At trace the outgoing URL is logged too, with its query values REDACTED (debug-logs.test.ts).
  t.assert.ok(!logs.text().includes('secret-query-value'), 'no query value is logged')
})

test('at trace level, a full run never writes the static token, the inbound token or a secret header', async (t: TestContext) => {
  const secrets = { STATIC_TOKEN: 'static-bearer-Q8w2Lm4n', INBOUND: 'inbound-token-Xr5Pz9Kd3', API_KEY: 'vendor-api-key-Hf7Tb1' }
  t.plan(3 + Object.keys(secrets).length)
  const origin = await startOrigin(t, (req, res) => {
    req.resume().on('end', () => {
      if (req.url?.startsWith('/fail')) res.writeHead(401, { 'www-authenticate': 'Bearer error="invalid_token"' }).end(req.headers.authorization)
      else res.end(JSON.stringify(req.headers))
    })
  })
  const dead = createServer()
  await new Promise<void>((resolve) => dead.listen(0, '127.0.0.1', resolve))
  const deadPort = (dead.address() as AddressInfo).port
  await new Promise((resolve) => dead.close(resolve))
  const { url, logs } = await startSidecar(t, {
    server: { inboundToken: '${INBOUND}' },
    upstreams: {
      halaxy: { target: origin.url, auth: { type: 'static_bearer', token: '${STATIC_TOKEN}' }, headers: { 'X-Api-Key': '${API_KEY}' } },
      gone: { target: `http://127.0.0.1:${deadPort}`, auth: { type: 'static_bearer', token: '${STATIC_TOKEN}' } }
    }
  }, secrets)
  const inbound = { 'x-tollgate-token': secrets.INBOUND }
  const ok = await fetch(`${url}/halaxy/Patient`, { headers: { ...inbound, authorization: 'Bearer app' } })
  t.assert.strictEqual(ok.status, 200)
  t.assert.strictEqual(((await ok.json()) as Record<string, string>).authorization, `Bearer ${secrets.STATIC_TOKEN}`, 'the token was really used')
  await (await fetch(`${url}/halaxy/fail`, { method: 'POST', headers: inbound, body: 'x' })).arrayBuffer()
  await (await fetch(`${url}/gone/x`, { headers: inbound })).arrayBuffer()
  await (await fetch(`${url}/halaxy/x`, { headers: { 'x-tollgate-token': `${secrets.INBOUND}-wrong` } })).arrayBuffer()
  await (await fetch(`${url}/halaxy/%2e%2e/x`, { headers: inbound })).arrayBuffer()
  t.assert.ok(completed(logs.entries()).length >= 5, 'the requests were logged')
  const text = logs.text()
  for (const [name, value] of Object.entries(secrets)) t.assert.ok(!text.includes(value), `${name} leaked into the log`)
})

function pick (entry: Entry): Entry {
  return { upstream: entry.upstream, method: entry.method, path: entry.path, status: entry.status }
}
