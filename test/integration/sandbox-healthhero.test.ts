// The HealthHero sandbox vendor against shared/vendors/healthhero.txt: POST a
// form with grant_type, client_id and client_secret to {identity}/connect/token;
// the access_token is a JWT; the API is /api/v1/CLIENT_ID/traversal.
import { test, type TestContext } from 'node:test'
import { decodeJwt, decodeProtectedHeader } from 'jose'
import { startSandbox, type RunningSandbox, type StartSandboxOptions } from '../../src/sandbox/server.js'

const CLIENT = { clientId: 'acme-hh', clientSecret: 's3cret with spaces & symbols' }

async function start (t: TestContext, options: StartSandboxOptions = {}): Promise<RunningSandbox> {
  const sandbox = await startSandbox({ vendors: { healthhero: { clients: [CLIENT] } }, ...options })
  t.after(() => sandbox.close())
  return sandbox
}

function requestToken (sandbox: RunningSandbox, fields: Record<string, string> = { grant_type: 'client_credentials', client_id: CLIENT.clientId, client_secret: CLIENT.clientSecret }, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(sandbox.endpoints.healthhero.tokenUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(fields).toString()
  })
}

async function token (sandbox: RunningSandbox): Promise<string> {
  return (await (await requestToken(sandbox)).json() as { access_token: string }).access_token
}

function traversal (sandbox: RunningSandbox, accessToken?: string, clientId = CLIENT.clientId): Promise<Response> {
  return fetch(`${sandbox.endpoints.healthhero.target}/api/v1/${clientId}/traversal`, {
    headers: { 'content-type': 'application/json', ...(accessToken === undefined ? {} : { authorization: `Bearer ${accessToken}` }) }
  })
}

test('healthhero: the documented form request gets a JWT access token with a real exp', async (t: TestContext) => {
  const sandbox = await start(t)
  const res = await requestToken(sandbox)
  t.assert.strictEqual(res.status, 200)
  const body = await res.json() as Record<string, unknown>
  // healthhero.txt: "a payload containing access_token, token_type, and expires_in values".
  t.assert.deepStrictEqual(Object.keys(body).sort(), ['access_token', 'expires_in', 'token_type'])
  t.assert.strictEqual(body.token_type, 'Bearer')
  t.assert.strictEqual(body.expires_in, 3600)
  // "The access_token is in the format of a JSON Web Token (JWT)."
  const jwt = String(body.access_token)
  t.assert.strictEqual(decodeProtectedHeader(jwt).alg, 'HS256')
  const claims = decodeJwt(jwt)
  t.assert.strictEqual(claims.client_id, CLIENT.clientId)
  t.assert.strictEqual(claims.iss, `${sandbox.url}/healthhero/identity`)
  t.assert.strictEqual((claims.exp ?? 0) - (claims.iat ?? 0), 3600)
})

test('healthhero: every other request shape is refused the RFC 6749 §5.2 way', async (t: TestContext) => {
  const sandbox = await start(t)
  const basic = `Basic ${Buffer.from(`${encodeURIComponent(CLIENT.clientId)}:${encodeURIComponent(CLIENT.clientSecret)}`).toString('base64')}`
  const json = fetch(sandbox.endpoints.healthhero.tokenUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ grant_type: 'client_credentials', client_id: CLIENT.clientId, client_secret: CLIENT.clientSecret })
  })
  const repeated = fetch(sandbox.endpoints.healthhero.tokenUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: `grant_type=client_credentials&client_id=${CLIENT.clientId}&client_id=${CLIENT.clientId}&client_secret=x`
  })
  const cases: Array<{ name: string, res: Promise<Response>, status: number, error: string, challenge?: string }> = [
    { name: 'JSON body', res: json, status: 400, error: 'invalid_request' },
    { name: 'repeated parameter', res: repeated, status: 400, error: 'invalid_request' },
    { name: 'secret in HTTP Basic', res: requestToken(sandbox, { grant_type: 'client_credentials' }, { authorization: basic }), status: 401, error: 'invalid_client', challenge: 'Basic realm="healthhero"' },
    { name: 'no client credentials', res: requestToken(sandbox, { grant_type: 'client_credentials' }), status: 401, error: 'invalid_client' },
    { name: 'wrong secret', res: requestToken(sandbox, { grant_type: 'client_credentials', client_id: CLIENT.clientId, client_secret: 'wrong' }), status: 401, error: 'invalid_client' },
    { name: 'another grant', res: requestToken(sandbox, { grant_type: 'authorization_code', client_id: CLIENT.clientId, client_secret: CLIENT.clientSecret }), status: 400, error: 'unsupported_grant_type' }
  ]
  for (const c of cases) {
    const res = await c.res
    t.assert.strictEqual(res.status, c.status, c.name)
    t.assert.strictEqual((await res.json() as { error: string }).error, c.error, c.name)
    t.assert.strictEqual(res.headers.get('www-authenticate'), c.challenge ?? null, c.name)
  }
  t.assert.strictEqual(sandbox.stats().healthhero.tokenErrors, cases.length)
})

test('healthhero: the token opens its own client\'s traversal path only', async (t: TestContext) => {
  const sandbox = await start(t)
  const accessToken = await token(sandbox)
  const ok = await traversal(sandbox, accessToken)
  t.assert.strictEqual(ok.status, 200)
  const echo = await ok.json() as { sandbox: string, method: string, path: string }
  t.assert.deepStrictEqual({ sandbox: echo.sandbox, method: echo.method, path: echo.path }, { sandbox: 'healthhero', method: 'GET', path: `/api/v1/${CLIENT.clientId}/traversal` })
  t.assert.strictEqual((await traversal(sandbox, accessToken, 'someone-else')).status, 403)
})

test('healthhero: no, expired or revoked token gets 401', async (t: TestContext) => {
  let now = Date.now()
  const sandbox = await start(t, { now: () => now, vendors: { healthhero: { clients: [CLIENT], tokenTtlSeconds: 1 } } })
  const none = await traversal(sandbox)
  t.assert.strictEqual(none.status, 401)
  t.assert.strictEqual(none.headers.get('www-authenticate'), 'Bearer realm="healthhero"')

  const shortLived = await token(sandbox)
  t.assert.strictEqual((await traversal(sandbox, shortLived)).status, 200)
  now += 1000
  const expired = await traversal(sandbox, shortLived)
  t.assert.strictEqual(expired.status, 401)
  t.assert.match(expired.headers.get('www-authenticate') ?? '', /error="invalid_token"/)

  const revokedToken = await token(sandbox)
  sandbox.revoke({ vendor: 'healthhero', clientId: CLIENT.clientId })
  t.assert.strictEqual((await traversal(sandbox, revokedToken)).status, 401)
})
