/**
 * The set of upstreams replaced at run time (issue 14, item 9): a second
 * sidecar built on the running one's server and switched in. New requests
 * see the new routes at once; a request in flight finishes on the old ones.
 */
import { test, type TestContext } from 'node:test'
import { resolveConfig } from '../../src/config/load.js'
import { buildServer } from '../../src/server.js'
import { startCountedOrigin } from '../helpers/hostile.js'
import { logSink } from '../helpers/log-sink.js'
import { startSidecar } from '../helpers/sidecar.js'

test('a sidecar built on the running server takes new requests when switched in; in-flight ones finish on the old routes', async (t: TestContext) => {
  const old = await startCountedOrigin(t, (req, res) => {
    req.resume()
    setTimeout(() => res.end('old'), req.url === '/slow' ? 300 : 0)
  })
  const fresh = await startCountedOrigin(t, (req, res) => { req.resume(); res.end('new') })
  const running = await startSidecar(t, { log: { level: 'warn' }, upstreams: { a: { target: old.url } } })

  const resolved = resolveConfig({ log: { level: 'warn' }, upstreams: { b: { target: fresh.url } } }, { env: {} })
  if (resolved.issues !== undefined) throw new Error('test config invalid')
  const next = await buildServer(resolved.config, { logStream: logSink().stream, switch: running.sidecar.switch })
  t.after(() => next.app.close())
  await next.app.ready()
  t.assert.strictEqual(next.app.server, running.sidecar.app.server, 'the same listener')

  const slow = fetch(`${running.url}/a/slow`).then(async (res) => [res.status, await res.text()])
  await new Promise((resolve) => setTimeout(resolve, 50))
  running.sidecar.switch.use(next.handler)

  const b = await fetch(`${running.url}/b/x`)
  t.assert.deepStrictEqual([b.status, await b.text()], [200, 'new'], 'the new upstream answers at once')
  const a = await fetch(`${running.url}/a/x`)
  await a.arrayBuffer()
  t.assert.strictEqual(a.status, 404, 'the old upstream is gone for new requests')
  t.assert.deepStrictEqual(await slow, [200, 'old'], 'the request in flight finished where it began')
})
