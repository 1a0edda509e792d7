// The Photon sandbox vendors against shared/vendors/photon.txt: POST JSON
// { client_id, client_secret, audience, grant_type } to /oauth/token, where the
// audience is that environment's API host; answer { access_token, scope,
// expires_in: 86400, token_type }.
import { test, type TestContext } from 'node:test'
import { presetDefaults } from '../../src/config/presets.js'
import { startSandbox, type RunningSandbox, type StartSandboxOptions } from '../../src/sandbox/server.js'

const CLIENT = { clientId: 'acme-photon', clientSecret: 'photon-secret' }
const AUDIENCE = 'https://api.photon.health'

async function start (t: TestContext, options: StartSandboxOptions = {}): Promise<RunningSandbox> {
  const sandbox = await startSandbox({ vendors: { photon: { clients: [CLIENT] }, 'photon-sandbox': { clients: [CLIENT] } }, ...options })
  t.after(() => sandbox.close())
  return sandbox
}

function requestToken (sandbox: RunningSandbox, body: Record<string, string> = { client_id: CLIENT.clientId, client_secret: CLIENT.clientSecret, audience: AUDIENCE, grant_type: 'client_credentials' }, vendor: 'photon' | 'photon-sandbox' = 'photon'): Promise<Response> {
  return fetch(sandbox.endpoints[vendor].tokenUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
}

async function token (sandbox: RunningSandbox): Promise<string> {
  return (await (await requestToken(sandbox)).json() as { access_token: string }).access_token
}

function graphql (sandbox: RunningSandbox, accessToken?: string, vendor: 'photon' | 'photon-sandbox' = 'photon'): Promise<Response> {
  return fetch(`${sandbox.endpoints[vendor].target}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-request-id': 'req-1', ...(accessToken === undefined ? {} : { authorization: `Bearer ${accessToken}` }) },
    body: JSON.stringify({ query: '{ me { id } }' })
  })
}

test('photon: the documented JSON request with the audience gets the documented answer', async (t: TestContext) => {
  const sandbox = await start(t)
  const res = await requestToken(sandbox)
  t.assert.strictEqual(res.status, 200)
  const body = await res.json() as Record<string, unknown>
  t.assert.deepStrictEqual(Object.keys(body), ['access_token', 'scope', 'expires_in', 'token_type'])
  t.assert.strictEqual(body.scope, 'read:patient write:patient read:prescription read:order write:order')
  t.assert.strictEqual(body.expires_in, 86400)
  t.assert.strictEqual(body.token_type, 'Bearer')
})

test('photon: each environment takes the audience its preset sends, and only that one', async (t: TestContext) => {
  const sandbox = await start(t)
  for (const vendor of ['photon', 'photon-sandbox'] as const) {
    const audience = presetDefaults(vendor, undefined, {}).defaults.auth.audience ?? ''
    const ok = await requestToken(sandbox, { client_id: CLIENT.clientId, client_secret: CLIENT.clientSecret, audience, grant_type: 'client_credentials' }, vendor)
    t.assert.strictEqual(ok.status, 200, vendor)
  }
  // Production's audience at the sandbox (neutron) is refused.
  const crossed = await requestToken(sandbox, { client_id: CLIENT.clientId, client_secret: CLIENT.clientSecret, audience: AUDIENCE, grant_type: 'client_credentials' }, 'photon-sandbox')
  t.assert.strictEqual(crossed.status, 400)
  t.assert.strictEqual((await crossed.json() as { error: string }).error, 'invalid_target')
})

test('photon: every other request shape is refused the RFC 6749 §5.2 way', async (t: TestContext) => {
  const sandbox = await start(t)
  const form = fetch(sandbox.endpoints.photon.tokenUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ client_id: CLIENT.clientId, client_secret: CLIENT.clientSecret, audience: AUDIENCE, grant_type: 'client_credentials' }).toString()
  })
  const basic = fetch(sandbox.endpoints.photon.tokenUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from(`${CLIENT.clientId}:${CLIENT.clientSecret}`).toString('base64')}` },
    body: JSON.stringify({ audience: AUDIENCE, grant_type: 'client_credentials' })
  })
  const cases: Array<{ name: string, res: Promise<Response>, status: number, error: string }> = [
    { name: 'no audience', res: requestToken(sandbox, { client_id: CLIENT.clientId, client_secret: CLIENT.clientSecret, grant_type: 'client_credentials' }), status: 400, error: 'invalid_request' },
    { name: 'an unknown audience', res: requestToken(sandbox, { client_id: CLIENT.clientId, client_secret: CLIENT.clientSecret, audience: 'https://api.example', grant_type: 'client_credentials' }), status: 400, error: 'invalid_target' },
    { name: 'form body', res: form, status: 400, error: 'invalid_request' },
    { name: 'secret in HTTP Basic', res: basic, status: 401, error: 'invalid_client' },
    { name: 'wrong secret', res: requestToken(sandbox, { client_id: CLIENT.clientId, client_secret: 'x', audience: AUDIENCE, grant_type: 'client_credentials' }), status: 401, error: 'invalid_client' },
    { name: 'another grant', res: requestToken(sandbox, { client_id: CLIENT.clientId, client_secret: CLIENT.clientSecret, audience: AUDIENCE, grant_type: 'refresh_token' }), status: 400, error: 'unsupported_grant_type' }
  ]
  for (const c of cases) {
    const res = await c.res
    t.assert.strictEqual(res.status, c.status, c.name)
    t.assert.strictEqual((await res.json() as { error: string }).error, c.error, c.name)
  }
})

test('photon: the token opens the API of its own environment only', async (t: TestContext) => {
  const sandbox = await start(t)
  const accessToken = await token(sandbox)
  const ok = await graphql(sandbox, accessToken)
  t.assert.strictEqual(ok.status, 200)
  t.assert.strictEqual(ok.headers.get('x-sandbox-x-request-id'), 'req-1')
  const echo = await ok.json() as { path: string, method: string, bodyBytes: number, headers: Record<string, string> }
  t.assert.deepStrictEqual({ path: echo.path, method: echo.method, bodyBytes: echo.bodyBytes }, { path: '/api/graphql', method: 'POST', bodyBytes: 25 })
  t.assert.strictEqual(echo.headers['x-request-id'], 'req-1')
  t.assert.strictEqual('authorization' in echo.headers, false)
  t.assert.strictEqual((await graphql(sandbox, accessToken, 'photon-sandbox')).status, 401)
})

test('photon: no, expired or revoked token gets 401', async (t: TestContext) => {
  let now = Date.now()
  const sandbox = await start(t, { now: () => now, vendors: { photon: { clients: [CLIENT], tokenTtlSeconds: 1 } } })
  t.assert.strictEqual((await graphql(sandbox)).status, 401)
  const shortLived = await token(sandbox)
  now += 1000
  t.assert.strictEqual((await graphql(sandbox, shortLived)).status, 401)
  const revoked = await token(sandbox)
  t.assert.strictEqual((await graphql(sandbox, revoked)).status, 200)
  sandbox.revoke({ clientId: CLIENT.clientId })
  t.assert.strictEqual((await graphql(sandbox, revoked)).status, 401)
  t.assert.deepStrictEqual({ ...sandbox.stats().photon }, { tokenRequests: 2, tokensIssued: 2, tokenErrors: 0, resourceRequests: 4, resourceUnauthorized: 3, rateLimited: 0 })
})
