/**
 * What a reload applies to new requests at once (issue 19 part 2):
 * server.allow, server.inboundToken, server.bodyLimit and log.level.
 */
import { test, type TestContext } from 'node:test'
import { startOrigin } from '../helpers/origin.js'
import { reloadTo } from '../helpers/reload.js'
import { startSidecar } from '../helpers/sidecar.js'

const OLD_TOKEN = 'inbound-token-old-1234'
const NEW_TOKEN = 'inbound-token-new-5678'

test('server.allow, server.inboundToken, server.bodyLimit and log.level apply to the next request', async (t: TestContext) => {
  const origin = await startOrigin(t, (req, res) => { req.resume(); req.on('end', () => res.end('ok')) })
  const upstreams = { vendor: { target: origin.url } }
  const sidecar = await startSidecar(t, { server: { bodyLimit: '1kb' }, log: { level: 'info' }, upstreams })
  const call = async (headers: Record<string, string> = {}, body?: string): Promise<number> => {
    const res = await fetch(`${sidecar.url}/vendor/x`, { method: body === undefined ? 'GET' : 'POST', headers, ...(body === undefined ? {} : { body }) })
    await res.arrayBuffer()
    return res.status
  }
  const body = 'x'.repeat(2048)
  t.assert.strictEqual(await call({}, body), 413, '2 kB over a 1 kB limit')

  // server.allow: this client (loopback) is no longer in the list, then is again.
  await reloadTo(sidecar.sidecar, { server: { bodyLimit: '1kb', allow: ['10.0.0.0/8'] }, log: { level: 'info' }, upstreams })
  t.assert.strictEqual(await call(), 403)
  t.assert.strictEqual((await fetch(`${sidecar.url}/healthz`)).status, 200, 'probes stay open')
  await reloadTo(sidecar.sidecar, { server: { bodyLimit: '1kb', allow: ['127.0.0.0/8'] }, log: { level: 'info' }, upstreams })
  t.assert.strictEqual(await call(), 200)

  // server.inboundToken: required at once, and a new one replaces the old at once.
  await reloadTo(sidecar.sidecar, { server: { bodyLimit: '1kb', inboundToken: OLD_TOKEN }, log: { level: 'info' }, upstreams })
  t.assert.strictEqual(await call(), 403)
  t.assert.strictEqual(await call({ 'x-tollgate-token': OLD_TOKEN }), 200)
  await reloadTo(sidecar.sidecar, { server: { bodyLimit: '4kb', inboundToken: NEW_TOKEN }, log: { level: 'debug' }, upstreams })
  t.assert.strictEqual(await call({ 'x-tollgate-token': OLD_TOKEN }), 403, 'the old token is refused')
  t.assert.strictEqual(await call({ 'x-tollgate-token': NEW_TOKEN }, body), 200, 'server.bodyLimit 4 kB: the 2 kB body passes')

  // log.level: debug lines appear from the reload on, and only then.
  const upstreamLines = sidecar.logs.entries().filter((entry) => entry.msg === 'upstream request')
  t.assert.strictEqual(upstreamLines.length, 1, 'one debug line: the request after log.level became debug')
  t.assert.strictEqual(sidecar.sidecar.logger.level, 'debug')
  const text = sidecar.logs.text()
  t.assert.ok(!text.includes(OLD_TOKEN) && !text.includes(NEW_TOKEN), 'an inbound token reached the log')
})
