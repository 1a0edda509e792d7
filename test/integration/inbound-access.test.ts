/**
 * Who may use the sidecar: `server.allow` (CIDR list) and `server.inboundToken`
 * (`x-tollgate-token`). Denied clients get a 403 problem and reach no origin;
 * /healthz and /readyz stay open for probes; the token is never forwarded,
 * logged or echoed. At config level, a non-loopback host needs one of them.
 */
import type { AddressInfo } from 'node:net'
import { request as httpRequest } from 'node:http'
import { test, type TestContext } from 'node:test'
import { resolveConfig } from '../../src/config/load.js'
import { buildServer } from '../../src/server.js'
import { runCli } from '../helpers/cli-process.js'
import { fixtureDir } from '../helpers/fixtures.js'
import { logSink } from '../helpers/log-sink.js'
import { startOrigin, type Origin } from '../helpers/origin.js'
import { startSidecar, type RunningSidecar } from '../helpers/sidecar.js'

const PROBLEM = 'application/problem+json; charset=utf-8'
const TOKEN = 'inbound-token-7d1e0c5b9a2f4e68'

interface Answer { status: number, type: string | undefined, body: string }

/** A request from a chosen local address (node:http, so the same header can be sent twice). */
async function send (url: string, path: string, headers: Record<string, string | string[]> = {}, localAddress?: string): Promise<Answer> {
  const target = new URL(path, url)
  return await new Promise((resolve, reject) => {
    const req = httpRequest({ hostname: target.hostname.replace(/^\[(.*)\]$/, '$1'), port: target.port, path: target.pathname + target.search, headers, agent: false, ...(localAddress === undefined ? {} : { localAddress }) }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => { body += chunk })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: res.headers['content-type'], body }))
    })
    req.on('error', reject)
    req.end()
  })
}

function assertDenied (t: TestContext, answer: Answer, what: string): void {
  t.assert.strictEqual(answer.status, 403, `${what}: ${answer.body}`)
  t.assert.strictEqual(answer.type, PROBLEM, what)
  t.assert.strictEqual((JSON.parse(answer.body) as { code?: string }).code, 'TG_INBOUND_DENIED', what)
}

async function withAllow (t: TestContext, allow: string[], extra: Record<string, unknown> = {}): Promise<{ sidecar: RunningSidecar, origin: Origin }> {
  const origin = await startOrigin(t)
  const sidecar = await startSidecar(t, { server: { allow, ...extra }, upstreams: { a: { target: origin.url } } })
  return { sidecar, origin }
}

test('server.allow: 127.0.0.0/8 lets a loopback client through', async (t: TestContext) => {
  t.plan(2)
  const { sidecar, origin } = await withAllow(t, ['127.0.0.0/8'])
  t.assert.strictEqual((await send(sidecar.url, '/a/x')).status, 200)
  t.assert.strictEqual(origin.requests.length, 1)
})

test('server.allow: a client outside 10.0.0.0/8 gets a 403 problem everywhere but the probes, and reaches no origin', async (t: TestContext) => {
  const { sidecar, origin } = await withAllow(t, ['10.0.0.0/8'])
  const denied = ['/a/x', '/a/x?y=1', '/status', '/metrics', '/nope', '/healthzz', '/healthz/../a/x']
  const open = ['/healthz', '/readyz', '/healthz?probe=1', '/readyz?x']
  t.plan(denied.length * 3 + open.length + 1)
  for (const path of denied) assertDenied(t, await send(sidecar.url, path), path)
  for (const path of open) t.assert.strictEqual((await send(sidecar.url, path)).status, 200, `${path} is a probe`)
  t.assert.strictEqual(origin.requests.length, 0)
})

test('server.allow: a single address matches only itself (127.0.0.1 in, 127.0.0.2 out)', async (t: TestContext) => {
  t.plan(4)
  const { sidecar } = await withAllow(t, ['127.0.0.1'])
  t.assert.strictEqual((await send(sidecar.url, '/a/x', {}, '127.0.0.1')).status, 200)
  assertDenied(t, await send(sidecar.url, '/a/x', {}, '127.0.0.2'), 'from 127.0.0.2')
})

test('server.allow on a dual-stack listener: an IPv4 client (::ffff:127.0.0.1) is judged as IPv4, ::1 as IPv6', async (t: TestContext) => {
  const origin = await startOrigin(t)
  const result = resolveConfig({ server: { host: '::', allow: ['127.0.0.0/8'] }, log: { level: 'silent' }, upstreams: { a: { target: origin.url } } }, { env: {} })
  t.assert.strictEqual(result.issues, undefined)
  const sidecar = await buildServer(result.config!, { logStream: logSink().stream })
  t.after(() => sidecar.app.close())
  try {
    await sidecar.app.listen({ host: '::', port: 0 })
  } catch {
    t.skip('no IPv6 on this host')
    return
  }
  const { port } = sidecar.app.server.address() as AddressInfo
  t.assert.strictEqual((await send(`http://127.0.0.1:${port}`, '/a/x')).status, 200, 'IPv4 over a dual-stack socket')
  assertDenied(t, await send(`http://[::1]:${port}`, '/a/x'), '::1 is not in 127.0.0.0/8')
})

test('server.inboundToken: missing, wrong, doubled → 403; right → 200, never forwarded, logged or echoed', async (t: TestContext) => {
  const origin = await startOrigin(t)
  const sidecar = await startSidecar(t, { server: { inboundToken: TOKEN }, upstreams: { a: { target: origin.url } } })
  const wrong: Array<[string, Record<string, string | string[]>]> = [
    ['no token', {}],
    ['empty', { 'x-tollgate-token': '' }],
    ['wrong, same length', { 'x-tollgate-token': TOKEN.replace(/.$/, 'X') }],
    ['a prefix of it', { 'x-tollgate-token': TOKEN.slice(0, -1) }],
    ['it plus more', { 'x-tollgate-token': `${TOKEN}x` }],
    ['sent twice', { 'x-tollgate-token': [TOKEN, TOKEN] }],
    ['as a bearer token', { authorization: `Bearer ${TOKEN}` }],
    ['in another header', { 'x-tollgate-token2': TOKEN }]
  ]
  t.plan(wrong.length * 3 + 15)
  for (const [name, headers] of wrong) assertDenied(t, await send(sidecar.url, '/a/x', headers), name)
  t.assert.strictEqual(origin.requests.length, 0, 'nothing reached the origin')

  const right = await send(sidecar.url, '/a/x', { 'x-tollgate-token': TOKEN })
  t.assert.strictEqual(right.status, 200)
  t.assert.strictEqual(origin.requests[0]?.headers['x-tollgate-token'], undefined, 'not forwarded')
  t.assert.ok(!JSON.stringify(origin.requests[0]?.headers).includes(TOKEN), 'not forwarded under any name')
  const upper = await send(sidecar.url, '/a/x', { 'X-Tollgate-Token': TOKEN })
  t.assert.strictEqual(upper.status, 200, 'header names are case-insensitive')
  // The app names the token header as hop-by-hop: the check still sees it, and it is still not sent on.
  const listed = await send(sidecar.url, '/a/x', { 'x-tollgate-token': TOKEN, connection: 'x-tollgate-token' })
  t.assert.strictEqual(listed.status, 200)
  t.assert.strictEqual(origin.requests[2]?.headers['x-tollgate-token'], undefined)

  for (const path of ['/healthz', '/readyz']) t.assert.strictEqual((await send(sidecar.url, path)).status, 200, `${path} needs no token`)
  assertDenied(t, await send(sidecar.url, '/status'), '/status without the token')
  const status = await send(sidecar.url, '/status', { 'x-tollgate-token': TOKEN })
  t.assert.strictEqual(status.status, 200)
  t.assert.ok(!status.body.includes(TOKEN), '/status does not show it')
  t.assert.ok(!sidecar.logs.text().includes(TOKEN), 'never in the log, at trace')
})

test('server.allow and server.inboundToken together: a client must pass both', async (t: TestContext) => {
  t.plan(7)
  const { sidecar: outside, origin } = await withAllow(t, ['10.0.0.0/8'], { inboundToken: TOKEN })
  assertDenied(t, await send(outside.url, '/a/x', { 'x-tollgate-token': TOKEN }), 'right token, wrong address')
  const { sidecar: inside } = await withAllow(t, ['127.0.0.0/8'], { inboundToken: TOKEN })
  assertDenied(t, await send(inside.url, '/a/x'), 'right address, no token')
  t.assert.strictEqual(origin.requests.length, 0)
})

test('tollgate check: a non-loopback host without allow or inboundToken is refused (exit 1, names the field)', async (t: TestContext) => {
  t.plan(2)
  const dir = fixtureDir(t)
  const file = dir.write('open.yaml', 'server:\n  host: 0.0.0.0\nupstreams:\n  a:\n    target: http://127.0.0.1:9\n')
  const { code, stderr } = await runCli(t, ['check', '--config', file])
  t.assert.strictEqual(code, 1, stderr)
  t.assert.match(stderr, /^server\.host: is not a loopback address/m)
})
