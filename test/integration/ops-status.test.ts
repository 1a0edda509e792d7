import { test, type TestContext } from 'node:test'
import { startOrigin } from '../helpers/origin.js'
import { startSidecar } from '../helpers/sidecar.js'
import { startTokenEndpoint, tokenReply } from '../helpers/token-endpoint.js'

const SECRET = 'status-client-secret-xyz'

test('/status reflects a revoked token and a paused upstream, and holds no secret or token', async (t: TestContext) => {
  let issued = 0
  const tokenEndpoint = await startTokenEndpoint(t, () => tokenReply(`status-token-${++issued}`, 600))
  const origin = await startOrigin(t, (req, res) => {
    req.resume()
    if (req.url === '/revoked') {
      res.writeHead(401)
      res.end()
    } else if (req.url === '/busy') {
      res.writeHead(429, { 'retry-after': '30' })
      res.end()
    } else {
      res.end('ok')
    }
  })
  const sidecar = await startSidecar(t, {
    upstreams: {
      vendor: {
        target: origin.url,
        auth: { type: 'oauth2_client_credentials', tokenUrl: tokenEndpoint.url, clientId: 'id', clientSecret: SECRET },
        rateLimit: { requests: 50, window: '1m' },
        retry: { on401: 0, on429: 0 }
      },
      open: { target: origin.url }
    }
  })
  await (await fetch(`${sidecar.url}/vendor/ok`)).text()
  let status = await (await fetch(`${sidecar.url}/status`)).json() as any
  t.assert.strictEqual(status.upstreams.vendor.auth.state, 'valid')
  t.assert.ok(status.upstreams.vendor.auth.expiresAt > Date.now())
  t.assert.strictEqual(status.upstreams.open.limiter.requests, 'unlimited')

  t.assert.strictEqual((await fetch(`${sidecar.url}/vendor/revoked`)).status, 401)
  status = await (await fetch(`${sidecar.url}/status`)).json() as any
  t.assert.notStrictEqual(status.upstreams.vendor.auth.state, 'valid', 'the 401 dropped the token')
  t.assert.strictEqual(status.upstreams.vendor.auth.expiresAt, undefined)

  const before = Date.now()
  t.assert.strictEqual((await fetch(`${sidecar.url}/vendor/busy`)).status, 429)
  const text = await (await fetch(`${sidecar.url}/status`)).text()
  status = JSON.parse(text)
  const limiter = status.upstreams.vendor.limiter
  t.assert.ok(limiter.pausedUntil >= before + 29_000 && limiter.pausedUntil <= Date.now() + 30_000, `pausedUntil ${limiter.pausedUntil}`)
  t.assert.strictEqual(limiter.counters.observed429, 1)
  t.assert.strictEqual(limiter.queued, 0)
  t.assert.ok(!text.includes(SECRET), 'the client secret is in /status')
  t.assert.ok(!text.includes('status-token-'), 'a token is in /status')
})

test('server.adminPort moves /metrics and /status off the app-facing listener', async (t: TestContext) => {
  const origin = await startOrigin(t)
  const sidecar = await startSidecar(t, { server: { adminPort: 0 }, upstreams: { vendor: { target: origin.url } } })
  t.assert.ok(sidecar.adminUrl !== undefined)
  t.assert.strictEqual((await fetch(`${sidecar.url}/metrics`)).status, 404)
  t.assert.strictEqual((await fetch(`${sidecar.url}/status`)).status, 404)
  t.assert.strictEqual((await fetch(`${sidecar.url}/healthz`)).status, 200)
  t.assert.strictEqual((await fetch(`${sidecar.adminUrl}/metrics`)).status, 200)
  t.assert.strictEqual((await fetch(`${sidecar.adminUrl}/status`)).status, 200)
  t.assert.strictEqual((await fetch(`${sidecar.adminUrl}/readyz`)).status, 200)
})
