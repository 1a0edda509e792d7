/**
 * Adding, removing and re-prefixing upstreams at run time (issue 19 part 2).
 * A request uses one config from start to end: one in flight, and one
 * queued behind it for the upstream's only slot, finish on the config they
 * started with, although their upstream is gone for new requests (404). What
 * is still under way when server.shutdownGrace has passed is cut.
 */
import { test, type TestContext } from 'node:test'
import { startOrigin } from '../helpers/origin.js'
import { reloadTo } from '../helpers/reload.js'
import { startSidecar } from '../helpers/sidecar.js'
import { LATE_SLACK_MS } from '../helpers/timing.js'

async function statusOf (response: Promise<Response>): Promise<[number, string]> {
  const res = await response
  return [res.status, await res.text()]
}

test('added, removed and re-prefixed upstreams: new requests see the new routes at once; the removed upstream\'s in-flight and queued requests finish', async (t: TestContext) => {
  let release: () => void = () => {}
  const held = new Promise<void>((resolve) => { release = resolve })
  t.after(() => { release() })
  const old = await startOrigin(t, (req, res) => {
    req.resume()
    if (req.url === '/slow') held.then(() => res.end('old slow'), () => {})
    else res.end('old')
  })
  const fresh = await startOrigin(t, (req, res) => { req.resume(); res.end(`fresh ${req.url ?? ''}`) })
  const sidecar = await startSidecar(t, {
    server: { shutdownGrace: '10s' },
    upstreams: {
      gone: { target: old.url, rateLimit: { requests: 100, window: '1s', maxConcurrent: 1, maxWait: '10s' } },
      moved: { target: fresh.url }
    }
  })

  const inFlight = statusOf(fetch(`${sidecar.url}/gone/slow`))
  await new Promise<void>((resolve) => { const check = (): void => { if (old.requests.length === 1) resolve(); else setTimeout(check, 5) }; check() })
  const queued = statusOf(fetch(`${sidecar.url}/gone/slow`))
  const limiter = sidecar.sidecar.upstreams[0]?.limiter
  await new Promise<void>((resolve) => { const check = (): void => { if (limiter?.status().queued === 1) resolve(); else setTimeout(check, 5) }; check() })

  const report = await reloadTo(sidecar.sidecar, { server: { shutdownGrace: '10s' }, upstreams: { moved: { target: fresh.url, prefix: '/elsewhere' }, added: { target: fresh.url } } })
  t.assert.strictEqual(report.result, 'applied')
  const [goneStatus, goneBody] = await statusOf(fetch(`${sidecar.url}/gone/x`))
  t.assert.deepStrictEqual([goneStatus, (JSON.parse(goneBody) as { code: string }).code], [404, 'TG_UPSTREAM_NOT_FOUND'], 'the removed upstream answers 404 as no upstream does')
  t.assert.strictEqual((await fetch(`${sidecar.url}/moved/x`)).status, 404, 'the old prefix is gone')
  t.assert.deepStrictEqual(await statusOf(fetch(`${sidecar.url}/elsewhere/x`)), [200, 'fresh /x'])
  t.assert.deepStrictEqual(await statusOf(fetch(`${sidecar.url}/added/y`)), [200, 'fresh /y'])

  release()
  t.assert.deepStrictEqual(await inFlight, [200, 'old slow'], 'the request in flight finished on the old config')
  t.assert.deepStrictEqual(await queued, [200, 'old slow'], 'the queued one too, in its turn')
  t.assert.strictEqual(old.requests.length, 2)
  const status = await (await fetch(`${sidecar.url}/status`)).json() as { upstreams: Record<string, { prefix: string }> }
  t.assert.deepStrictEqual(Object.fromEntries(Object.entries(status.upstreams).map(([name, upstream]) => [name, upstream.prefix])), { moved: '/elsewhere', added: '/added' })
  t.assert.ok(!sidecar.logs.text().includes('still under way'), 'nothing was cut')
})

test('a removed upstream\'s request still under way when server.shutdownGrace has passed is cut, and the old generation closed', async (t: TestContext) => {
  const hung = await startOrigin(t, (req) => { req.resume() })
  const other = await startOrigin(t, (req, res) => { req.resume(); res.end('other') })
  const sidecar = await startSidecar(t, { upstreams: { hung: { target: hung.url, timeout: '30s' }, other: { target: other.url } } })
  const cut = statusOf(fetch(`${sidecar.url}/hung/forever`))
  await new Promise<void>((resolve) => { const check = (): void => { if (hung.requests.length === 1) resolve(); else setTimeout(check, 5) }; check() })

  const graceMs = 300
  const reloadedAt = performance.now()
  await reloadTo(sidecar.sidecar, { server: { shutdownGrace: `${graceMs}ms` }, upstreams: { other: { target: other.url } } })
  const [status] = await cut
  const tookMs = performance.now() - reloadedAt
  t.assert.strictEqual(status, 502, 'aborted towards the upstream')
  t.assert.ok(tookMs >= graceMs - 5 && tookMs < graceMs + 500 + LATE_SLACK_MS, `cut after ${Math.round(tookMs)} ms, grace ${graceMs} ms`)
  const line = sidecar.logs.entries().find((entry) => entry.msg === 'requests of the previous config still under way at server.shutdownGrace: cut')
  t.assert.deepStrictEqual(line?.upstreams, ['hung'])
  t.assert.deepStrictEqual(await statusOf(fetch(`${sidecar.url}/other/x`)), [200, 'other'])
})
