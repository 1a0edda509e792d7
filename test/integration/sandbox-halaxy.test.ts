// The Halaxy sandbox vendor against shared/vendors/halaxy.txt: POST JSON
// { grant_type, client_id, client_secret } to /main/oauth/token, answer
// { token_type, expires_in, access_token }, FHIR JSON at /main/Patient.
import { test, type TestContext } from 'node:test'
import { startSandbox, type RunningSandbox, type StartSandboxOptions } from '../../src/sandbox/server.js'

const CLIENT = { clientId: 'acme-halaxy', clientSecret: 'acme+secret/with:odd=chars' }
const USER_AGENT = 'Acme Clinic Sync (dev@acme.example)'

async function start (t: TestContext, options: StartSandboxOptions = {}): Promise<RunningSandbox> {
  const sandbox = await startSandbox({ vendors: { halaxy: { clients: [CLIENT] } }, ...options })
  t.after(() => sandbox.close())
  return sandbox
}

function requestToken (sandbox: RunningSandbox, body: unknown = { grant_type: 'client_credentials', client_id: CLIENT.clientId, client_secret: CLIENT.clientSecret }, headers: Record<string, string> = { 'content-type': 'application/json' }): Promise<Response> {
  return fetch(sandbox.endpoints.halaxy.tokenUrl, { method: 'POST', headers: { accept: 'application/fhir+json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) })
}

async function token (sandbox: RunningSandbox): Promise<string> {
  const res = await requestToken(sandbox)
  const body = await res.json() as { access_token: string }
  return body.access_token
}

function patients (sandbox: RunningSandbox, accessToken?: string): Promise<Response> {
  return fetch(`${sandbox.endpoints.halaxy.target}/Patient`, {
    headers: { accept: 'application/fhir+json', 'user-agent': USER_AGENT, ...(accessToken === undefined ? {} : { authorization: `Bearer ${accessToken}` }) }
  })
}

test('halaxy: the documented JSON request gets the documented answer', async (t: TestContext) => {
  const sandbox = await start(t)
  const res = await requestToken(sandbox)
  t.assert.strictEqual(res.status, 200)
  t.assert.strictEqual(res.headers.get('cache-control'), 'no-store')
  const body = await res.json() as Record<string, unknown>
  // halaxy.txt: {"token_type":"Bearer","expires_in":...,"access_token":"<YOUR ACCESS TOKEN>"}, 15 minutes.
  t.assert.deepStrictEqual(Object.keys(body), ['token_type', 'expires_in', 'access_token'])
  t.assert.strictEqual(body.token_type, 'Bearer')
  t.assert.strictEqual(body.expires_in, 900)
  t.assert.match(String(body.access_token), /^[A-Za-z0-9_-]{43}$/)
  t.assert.strictEqual(sandbox.stats().halaxy.tokensIssued, 1)
})

test('halaxy: every other request shape is refused the RFC 6749 §5.2 way', async (t: TestContext) => {
  const sandbox = await start(t)
  const form = new URLSearchParams({ grant_type: 'client_credentials', client_id: CLIENT.clientId, client_secret: CLIENT.clientSecret }).toString()
  const basic = `Basic ${Buffer.from(`${encodeURIComponent(CLIENT.clientId)}:${encodeURIComponent(CLIENT.clientSecret)}`).toString('base64')}`
  const cases: Array<{ name: string, res: Promise<Response>, status: number, error: string, challenge?: string }> = [
    { name: 'form body', res: requestToken(sandbox, form, { 'content-type': 'application/x-www-form-urlencoded' }), status: 400, error: 'invalid_request' },
    { name: 'JSON without a content type', res: requestToken(sandbox, JSON.stringify({ grant_type: 'client_credentials' }), {}), status: 400, error: 'invalid_request' },
    { name: 'not JSON', res: requestToken(sandbox, '{grant_type', { 'content-type': 'application/json' }), status: 400, error: 'invalid_request' },
    { name: 'a JSON array', res: requestToken(sandbox, '[]', { 'content-type': 'application/json' }), status: 400, error: 'invalid_request' },
    { name: 'no grant_type', res: requestToken(sandbox, { client_id: CLIENT.clientId, client_secret: CLIENT.clientSecret }), status: 400, error: 'invalid_request' },
    { name: 'another grant', res: requestToken(sandbox, { grant_type: 'password', client_id: CLIENT.clientId, client_secret: CLIENT.clientSecret }), status: 400, error: 'unsupported_grant_type' },
    { name: 'secret in HTTP Basic', res: requestToken(sandbox, { grant_type: 'client_credentials' }, { 'content-type': 'application/json', authorization: basic }), status: 401, error: 'invalid_client', challenge: 'Basic realm="halaxy"' },
    { name: 'secret in Basic and body', res: requestToken(sandbox, { grant_type: 'client_credentials', client_id: CLIENT.clientId, client_secret: CLIENT.clientSecret }, { 'content-type': 'application/json', authorization: basic }), status: 400, error: 'invalid_request' },
    { name: 'no secret', res: requestToken(sandbox, { grant_type: 'client_credentials', client_id: CLIENT.clientId }), status: 401, error: 'invalid_client' },
    { name: 'wrong secret', res: requestToken(sandbox, { grant_type: 'client_credentials', client_id: CLIENT.clientId, client_secret: 'nope' }), status: 401, error: 'invalid_client' },
    { name: 'unknown client', res: requestToken(sandbox, { grant_type: 'client_credentials', client_id: 'halaxy-client', client_secret: 'halaxy-secret' }), status: 401, error: 'invalid_client' },
    { name: 'a number for a secret', res: requestToken(sandbox, { grant_type: 'client_credentials', client_id: CLIENT.clientId, client_secret: 12 }), status: 400, error: 'invalid_request' }
  ]
  for (const c of cases) {
    const res = await c.res
    const body = await res.json() as { error: string, error_description: string }
    t.assert.strictEqual(res.status, c.status, c.name)
    t.assert.strictEqual(body.error, c.error, c.name)
    t.assert.strictEqual(typeof body.error_description, 'string', c.name)
    t.assert.strictEqual(res.headers.get('www-authenticate'), c.challenge ?? null, c.name)
  }
  const get = await fetch(sandbox.endpoints.halaxy.tokenUrl)
  t.assert.strictEqual(get.status, 405)
  t.assert.strictEqual(get.headers.get('allow'), 'POST')
  t.assert.deepStrictEqual({ ...sandbox.stats().halaxy }, { tokenRequests: cases.length + 1, tokensIssued: 0, tokenErrors: cases.length + 1, resourceRequests: 0, resourceUnauthorized: 0, rateLimited: 0 })
})

test('halaxy: the token opens FHIR Patient resources; the User-Agent is echoed, the token never', async (t: TestContext) => {
  const sandbox = await start(t)
  const accessToken = await token(sandbox)

  const list = await patients(sandbox, accessToken)
  t.assert.strictEqual(list.status, 200)
  t.assert.strictEqual(list.headers.get('content-type'), 'application/fhir+json; charset=utf-8')
  t.assert.strictEqual(list.headers.get('x-sandbox-user-agent'), USER_AGENT)
  t.assert.strictEqual(list.headers.get('x-sandbox-warning'), null)
  const text = await list.text()
  t.assert.ok(!text.includes(accessToken), 'the token was echoed')
  t.assert.ok(![...list.headers.values()].some((value) => value.includes(accessToken)), 'the token was echoed in a header')
  const bundle = JSON.parse(text) as { resourceType: string, type: string, entry: Array<{ resource: { resourceType: string, id: string, name: unknown[] } }> }
  t.assert.strictEqual(bundle.resourceType, 'Bundle')
  t.assert.strictEqual(bundle.type, 'searchset')
  t.assert.ok(bundle.entry.length > 0)
  const first = bundle.entry[0]?.resource
  t.assert.strictEqual(first?.resourceType, 'Patient')
  t.assert.ok(Array.isArray(first?.name))

  const one = await fetch(`${sandbox.endpoints.halaxy.target}/Patient/${first?.id ?? ''}`, { headers: { authorization: `Bearer ${accessToken}` } })
  t.assert.strictEqual(one.status, 200)
  t.assert.deepStrictEqual(await one.json(), first)
  // Halaxy asks every caller to identify itself; the sandbox says so when one does not.
  t.assert.match(one.headers.get('x-sandbox-warning') ?? '', /APP_VENDOR_NAME \(APP_VENDOR_EMAIL\)/)

  const missing = await fetch(`${sandbox.endpoints.halaxy.target}/Patient/nobody`, { headers: { authorization: `Bearer ${accessToken}` } })
  t.assert.strictEqual(missing.status, 404)
  t.assert.strictEqual((await missing.json() as { resourceType: string }).resourceType, 'OperationOutcome')
})

test('halaxy: no, unknown or foreign token gets 401 with a Bearer challenge (RFC 6750 §3)', async (t: TestContext) => {
  const sandbox = await start(t)
  const none = await patients(sandbox)
  t.assert.strictEqual(none.status, 401)
  // §3.1: no error code when the request carried no authentication at all.
  t.assert.strictEqual(none.headers.get('www-authenticate'), 'Bearer realm="halaxy"')
  t.assert.strictEqual(none.headers.get('x-ratelimit-limit'), null)

  const unknown = await patients(sandbox, 'not-a-token')
  t.assert.strictEqual(unknown.status, 401)
  t.assert.match(unknown.headers.get('www-authenticate') ?? '', /^Bearer realm="halaxy", error="invalid_token"/)
  t.assert.strictEqual((await unknown.json() as { error: string }).error, 'invalid_token')

  // A token from the EU region is not valid in AU.
  const euClient = sandbox.credentials['halaxy-eu']
  const eu = await fetch(sandbox.endpoints['halaxy-eu'].tokenUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ grant_type: 'client_credentials', client_id: euClient.clientId, client_secret: euClient.clientSecret })
  })
  t.assert.strictEqual(eu.status, 200)
  const euToken = (await eu.json() as { access_token: string }).access_token
  t.assert.strictEqual((await patients(sandbox, euToken)).status, 401)
  t.assert.strictEqual((await fetch(`${sandbox.endpoints['halaxy-eu'].target}/Patient`, { headers: { authorization: `Bearer ${euToken}` } })).status, 200)
  t.assert.strictEqual(sandbox.stats().halaxy.resourceUnauthorized, 3)
})

test('halaxy: a 1 s token expires after 1 s', async (t: TestContext) => {
  let now = Date.now()
  const sandbox = await start(t, { now: () => now, vendors: { halaxy: { clients: [CLIENT], tokenTtlSeconds: 1 } } })
  const res = await requestToken(sandbox)
  const body = await res.json() as { access_token: string, expires_in: number }
  t.assert.strictEqual(body.expires_in, 1)
  now += 999
  t.assert.strictEqual((await patients(sandbox, body.access_token)).status, 200)
  now += 1
  const expired = await patients(sandbox, body.access_token)
  t.assert.strictEqual(expired.status, 401)
  t.assert.match(expired.headers.get('www-authenticate') ?? '', /error="invalid_token", error_description="the access token expired"/)
})

test('halaxy: expiresInSeconds reproduces the page\'s contradiction: the answer says 3600, the token dies at 900 s', async (t: TestContext) => {
  let now = Date.now()
  const sandbox = await start(t, { now: () => now, vendors: { halaxy: { clients: [CLIENT], expiresInSeconds: 3600 } } })
  const body = await (await requestToken(sandbox)).json() as { access_token: string, expires_in: number }
  t.assert.strictEqual(body.expires_in, 3600)
  now += 899_999
  t.assert.strictEqual((await patients(sandbox, body.access_token)).status, 200)
  now += 1
  t.assert.strictEqual((await patients(sandbox, body.access_token)).status, 401)
})

test('halaxy: a revoked token gets 401; a new one works', async (t: TestContext) => {
  const sandbox = await start(t)
  const first = await token(sandbox)
  t.assert.strictEqual(sandbox.revoke({ vendor: 'halaxy' }), 1)
  const revoked = await patients(sandbox, first)
  t.assert.strictEqual(revoked.status, 401)
  t.assert.match(revoked.headers.get('www-authenticate') ?? '', /the access token was revoked/)
  t.assert.strictEqual((await patients(sandbox, await token(sandbox))).status, 200)
})
