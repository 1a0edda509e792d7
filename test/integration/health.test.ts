import { test, type TestContext } from 'node:test'
import { startOrigin } from '../helpers/origin.js'
import { startSidecar } from '../helpers/sidecar.js'

test('/healthz and /readyz answer 200 while running; /readyz turns 503 when draining', async (t: TestContext) => {
  t.plan(7)
  const origin = await startOrigin(t)
  const { url, sidecar } = await startSidecar(t, { upstreams: { halaxy: { target: origin.url } } })
  const health = await fetch(`${url}/healthz`)
  t.assert.strictEqual(health.status, 200)
  t.assert.deepStrictEqual(await health.json(), { status: 'ok' })
  const ready = await fetch(`${url}/readyz`)
  t.assert.strictEqual(ready.status, 200)
  t.assert.deepStrictEqual(await ready.json(), { status: 'ready' })

  sidecar.lifecycle.draining = true
  t.assert.strictEqual((await fetch(`${url}/readyz`)).status, 503)
  t.assert.strictEqual((await fetch(`${url}/healthz`)).status, 200, 'still alive while draining')
  t.assert.strictEqual(origin.requests.length, 0, 'the ops endpoints never reach an upstream')
})

test('with an inbound token, the probes need none (kubelet sends no headers)', async (t: TestContext) => {
  t.plan(3)
  const origin = await startOrigin(t)
  const { url } = await startSidecar(t, { server: { inboundToken: 'a-long-enough-inbound-token' }, upstreams: { halaxy: { target: origin.url } } })
  t.assert.strictEqual((await fetch(`${url}/healthz`)).status, 200)
  t.assert.strictEqual((await fetch(`${url}/readyz`)).status, 200)
  t.assert.strictEqual((await fetch(`${url}/halaxy/x`)).status, 403, 'the proxy itself does')
})

test('a probe with a query string is still a probe: no inbound token needed, /healthz stays 200 while draining', async (t: TestContext) => {
  t.plan(3)
  const origin = await startOrigin(t)
  const { url, sidecar } = await startSidecar(t, { server: { inboundToken: 'a-long-enough-inbound-token' }, upstreams: { halaxy: { target: origin.url } } })
  t.assert.strictEqual((await fetch(`${url}/healthz?probe=kubelet`)).status, 200)
  t.assert.strictEqual((await fetch(`${url}/readyz?probe=kubelet`)).status, 200)
  sidecar.lifecycle.draining = true
  t.assert.strictEqual((await fetch(`${url}/healthz?probe=kubelet`)).status, 200, 'alive while draining')
})
