// The NikoHealth sandbox vendor against shared/vendors/nikohealth.txt: POST
// grant_type=client_credentials as a form with `Authorization: Basic`, answer
// { access_token, expires_in: 1200, token_type, scope: 'external' }; the API
// is /api/external/v1/patients.
import { test, type TestContext } from 'node:test'
import { startSandbox, type RunningSandbox, type StartSandboxOptions } from '../../src/sandbox/server.js'

// `+`, `%`, `:` and `/` are where RFC 6749 §2.3.1's form-encoding before base64 matters.
const CLIENT = { clientId: 'acme:niko', clientSecret: 'p+ss%word/with:colon' }

function basic (clientId: string, secret: string): string {
  // RFC 6749 §2.3.1: form-urlencode id and secret, then base64 "id:secret".
  const encode = (value: string): string => new URLSearchParams({ v: value }).toString().slice(2)
  return `Basic ${Buffer.from(`${encode(clientId)}:${encode(secret)}`).toString('base64')}`
}

async function start (t: TestContext, options: StartSandboxOptions = {}): Promise<RunningSandbox> {
  const sandbox = await startSandbox({ vendors: { nikohealth: { clients: [CLIENT] } }, ...options })
  t.after(() => sandbox.close())
  return sandbox
}

function requestToken (sandbox: RunningSandbox, body = 'grant_type=client_credentials', headers: Record<string, string> = { authorization: basic(CLIENT.clientId, CLIENT.clientSecret) }): Promise<Response> {
  return fetch(sandbox.endpoints.nikohealth.tokenUrl, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body })
}

async function token (sandbox: RunningSandbox): Promise<string> {
  return (await (await requestToken(sandbox)).json() as { access_token: string }).access_token
}

function patients (sandbox: RunningSandbox, accessToken?: string): Promise<Response> {
  return fetch(`${sandbox.endpoints.nikohealth.target}/external/v1/patients`, {
    headers: { 'content-type': 'application/json', ...(accessToken === undefined ? {} : { authorization: `Bearer ${accessToken}` }) }
  })
}

test('nikohealth: Basic plus grant_type gets the documented answer', async (t: TestContext) => {
  const sandbox = await start(t)
  const res = await requestToken(sandbox)
  t.assert.strictEqual(res.status, 200)
  const body = await res.json() as Record<string, unknown>
  t.assert.deepStrictEqual(Object.keys(body).sort(), ['access_token', 'expires_in', 'scope', 'token_type'])
  t.assert.strictEqual(body.expires_in, 1200)
  t.assert.strictEqual(body.token_type, 'Bearer')
  t.assert.strictEqual(body.scope, 'external')
  // Shaped like the page's example token.
  t.assert.match(String(body.access_token), /^[0-9A-F]{64}$/)

  // Swagger's only scope may be asked for explicitly.
  t.assert.strictEqual((await requestToken(sandbox, 'grant_type=client_credentials&scope=external')).status, 200)
})

test('nikohealth: every other request shape is refused the RFC 6749 §5.2 way', async (t: TestContext) => {
  const sandbox = await start(t)
  const raw = `Basic ${Buffer.from(`${CLIENT.clientId}:${CLIENT.clientSecret}`).toString('base64')}`
  const inBody = new URLSearchParams({ grant_type: 'client_credentials', client_id: CLIENT.clientId, client_secret: CLIENT.clientSecret }).toString()
  const cases: Array<{ name: string, res: Promise<Response>, status: number, error: string, challenge?: string }> = [
    { name: 'secret in the body, no Basic', res: requestToken(sandbox, inBody, {}), status: 401, error: 'invalid_client', challenge: 'Basic realm="nikohealth"' },
    { name: 'nothing at all', res: requestToken(sandbox, 'grant_type=client_credentials', {}), status: 401, error: 'invalid_client', challenge: 'Basic realm="nikohealth"' },
    { name: 'Basic and the secret in the body', res: requestToken(sandbox, inBody), status: 400, error: 'invalid_request' },
    { name: 'Basic without form-encoding first (RFC 6749 §2.3.1)', res: requestToken(sandbox, 'grant_type=client_credentials', { authorization: raw }), status: 401, error: 'invalid_client', challenge: 'Basic realm="nikohealth"' },
    { name: 'wrong secret', res: requestToken(sandbox, 'grant_type=client_credentials', { authorization: basic(CLIENT.clientId, 'nope') }), status: 401, error: 'invalid_client', challenge: 'Basic realm="nikohealth"' },
    { name: 'not base64', res: requestToken(sandbox, 'grant_type=client_credentials', { authorization: 'Basic %%%' }), status: 401, error: 'invalid_client', challenge: 'Basic realm="nikohealth"' },
    { name: 'JSON body', res: requestToken(sandbox, '{"grant_type":"client_credentials"}', { 'content-type': 'application/json', authorization: basic(CLIENT.clientId, CLIENT.clientSecret) }), status: 400, error: 'invalid_request' },
    { name: 'a client_id that is not the Basic one', res: requestToken(sandbox, 'grant_type=client_credentials&client_id=other'), status: 400, error: 'invalid_request' },
    { name: 'another scope', res: requestToken(sandbox, 'grant_type=client_credentials&scope=internal'), status: 400, error: 'invalid_scope' },
    { name: 'no grant_type', res: requestToken(sandbox, ''), status: 400, error: 'invalid_request' }
  ]
  for (const c of cases) {
    const res = await c.res
    t.assert.strictEqual(res.status, c.status, c.name)
    t.assert.strictEqual((await res.json() as { error: string }).error, c.error, c.name)
    t.assert.strictEqual(res.headers.get('www-authenticate'), c.challenge ?? null, c.name)
  }
})

test('nikohealth: the token opens /api/external/v1/patients; no, expired or revoked token gets 401', async (t: TestContext) => {
  let now = Date.now()
  const sandbox = await start(t, { now: () => now, vendors: { nikohealth: { clients: [CLIENT], tokenTtlSeconds: 1 } } })
  const accessToken = await token(sandbox)
  const ok = await patients(sandbox, accessToken)
  t.assert.strictEqual(ok.status, 200)
  t.assert.strictEqual((await ok.json() as { path: string }).path, '/api/external/v1/patients')

  t.assert.strictEqual((await patients(sandbox)).status, 401)
  now += 1000
  t.assert.strictEqual((await patients(sandbox, accessToken)).status, 401)

  const fresh = await token(sandbox)
  t.assert.strictEqual((await patients(sandbox, fresh)).status, 200)
  t.assert.strictEqual(sandbox.revoke({ vendor: 'nikohealth' }), 1)
  const revoked = await patients(sandbox, fresh)
  t.assert.strictEqual(revoked.status, 401)
  t.assert.match(revoked.headers.get('www-authenticate') ?? '', /revoked/)
})
