/**
 * An upstream whose target and credentials a reload leaves alone keeps its
 * token (no new token request) and its limiter window (issue 19 part 2):
 * across a change of its other settings, a changed rateLimit (the recorded
 * starts still count), a new prefix and a new name. A changed secret is the
 * control: it does fetch a new token.
 */
import { test, type TestContext } from 'node:test'
import { startOrigin } from '../helpers/origin.js'
import { reloadTo } from '../helpers/reload.js'
import { startSidecar } from '../helpers/sidecar.js'
import { startTokenEndpoint, tokenReply } from '../helpers/token-endpoint.js'

test('no token request and no fresh window across other settings, a new rateLimit, a new prefix and a rename', async (t: TestContext) => {
  const endpoint = await startTokenEndpoint(t, (request) => tokenReply(`kept-token-${new URLSearchParams(request.body).get('client_secret') ?? ''}-${Date.now()}`, 3600))
  const seen: string[] = []
  const origin = await startOrigin(t, (req, res) => {
    seen.push(`${req.url ?? ''} ${req.headers['x-version'] ?? '-'}`)
    req.resume()
    res.end('ok')
  })
  const auth = (secret: string): Record<string, unknown> => ({ type: 'oauth2_client_credentials', tokenUrl: endpoint.url, clientId: 'kept-client', clientSecret: secret })
  const vendor = (extra: Record<string, unknown>): Record<string, unknown> => ({
    target: `${origin.url}/api`,
    auth: auth('kept-secret-one'),
    rateLimit: { requests: 3, window: '1h', maxWait: '50ms' },
    ...extra
  })
  const sidecar = await startSidecar(t, { upstreams: { vendor: vendor({}) } })
  const get = async (path: string): Promise<number> => {
    const res = await fetch(`${sidecar.url}${path}`)
    await res.arrayBuffer()
    return res.status
  }
  const remaining = (): unknown => sidecar.sidecar.upstreams[0]?.limiter.status().remaining

  for (const path of ['/vendor/1', '/vendor/2', '/vendor/3']) t.assert.strictEqual(await get(path), 200)
  t.assert.strictEqual(await get('/vendor/4'), 503, 'the window of 3 per hour is full')
  t.assert.strictEqual(endpoint.requests.length, 1)

  // Other settings: headers, timeout, retry, maxWait.
  t.assert.strictEqual((await reloadTo(sidecar.sidecar, { upstreams: { vendor: vendor({ headers: { 'X-Version': '2' }, timeout: '20s', retry: { on429: 0 }, rateLimit: { requests: 3, window: '1h', maxWait: '60ms' } }) } })).result, 'applied')
  t.assert.strictEqual(remaining(), 0, 'the 3 starts of the hour still count')
  t.assert.strictEqual(await get('/vendor/5'), 503)

  // A larger rateLimit: only the difference is free.
  await reloadTo(sidecar.sidecar, { upstreams: { vendor: vendor({ headers: { 'X-Version': '3' }, rateLimit: { requests: 5, window: '1h', maxWait: '50ms' } }) } })
  t.assert.strictEqual(remaining(), 2)
  t.assert.strictEqual(await get('/vendor/6'), 200)

  // A new prefix, then a new name (and prefix): the same token and window.
  await reloadTo(sidecar.sidecar, { upstreams: { vendor: vendor({ prefix: '/v2', headers: { 'X-Version': '4' }, rateLimit: { requests: 5, window: '1h', maxWait: '50ms' } }) } })
  t.assert.strictEqual(await get('/vendor/7'), 404, 'the old prefix is gone')
  t.assert.strictEqual(await get('/v2/8'), 200)
  await reloadTo(sidecar.sidecar, { upstreams: { renamed: vendor({ headers: { 'X-Version': '5' }, rateLimit: { requests: 5, window: '1h', maxWait: '50ms' } }) } })
  t.assert.strictEqual(await get('/v2/9'), 404)
  t.assert.strictEqual(remaining(), 0, 'the renamed upstream counts the 5 starts made under its old names')
  t.assert.strictEqual(await get('/renamed/10'), 503)
  t.assert.strictEqual(endpoint.requests.length, 1, 'no token request through four reloads')
  t.assert.deepStrictEqual(seen, ['/api/1 -', '/api/2 -', '/api/3 -', '/api/6 3', '/api/8 4'])
  const status = await (await fetch(`${sidecar.url}/status`)).json() as { upstreams: Record<string, { auth: { fetches: { ok: number } } }> }
  t.assert.deepStrictEqual(Object.keys(status.upstreams), ['renamed'])
  t.assert.strictEqual(status.upstreams.renamed?.auth.fetches.ok, 1, '/status shows the token kept under the new name')

  // The control: a new secret is new credentials, and they fetch.
  await reloadTo(sidecar.sidecar, { upstreams: { renamed: vendor({ auth: auth('kept-secret-two'), rateLimit: { requests: 6, window: '1h', maxWait: '50ms' } }) } })
  t.assert.strictEqual(await get('/renamed/11'), 200)
  t.assert.strictEqual(endpoint.requests.length, 2, 'the new secret fetched a token')
  t.assert.strictEqual(await get('/renamed/12'), 503, 'and the window still counts every start: 6 of 6')
})
