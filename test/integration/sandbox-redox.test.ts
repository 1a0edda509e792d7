// The Redox sandbox vendor against shared/vendors/redox.txt and
// peers-and-pitfalls §8: a form with grant_type, client_assertion_type
// (jwt-bearer) and a client_assertion signed RS384/ES384 with kid and typ JWT,
// iss = sub = client id, aud = the token URL, a jti, exp at most 5 min ahead,
// verified against the client's public key.
import { randomUUID } from 'node:crypto'
import { test, type TestContext } from 'node:test'
import { exportJWK, generateKeyPair, importPKCS8, SignJWT, type CryptoKey, type JWK } from 'jose'
import { startSandbox, type RunningSandbox, type StartSandboxOptions } from '../../src/sandbox/server.js'

const CLIENT_ID = 'acme-redox'
const KID = 'acme-key-1'
const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'

const rsa = await generateKeyPair('RS384')
const publicJwk: JWK = { ...await exportJWK(rsa.publicKey), kid: KID, alg: 'RS384' }

async function start (t: TestContext, options: StartSandboxOptions = {}): Promise<RunningSandbox> {
  const sandbox = await startSandbox({ vendors: { redox: { clients: [{ clientId: CLIENT_ID, publicKey: { keys: [publicJwk] } }] } }, ...options })
  t.after(() => sandbox.close())
  return sandbox
}

interface AssertionOptions {
  key?: CryptoKey
  alg?: string
  kid?: string | undefined
  typ?: string | undefined
  iss?: string
  sub?: string
  aud?: string
  jti?: string | undefined
  /** Seconds from now. */
  exp?: number
}

async function assertion (sandbox: RunningSandbox, options: AssertionOptions = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000)
  const header: Record<string, string> = { alg: options.alg ?? 'RS384' }
  const kid = 'kid' in options ? options.kid : KID
  const typ = 'typ' in options ? options.typ : 'JWT'
  if (kid !== undefined) header.kid = kid
  if (typ !== undefined) header.typ = typ
  const jti = 'jti' in options ? options.jti : randomUUID()
  return await new SignJWT(jti === undefined ? {} : { jti })
    .setProtectedHeader(header as { alg: string })
    .setIssuer(options.iss ?? CLIENT_ID)
    .setSubject(options.sub ?? CLIENT_ID)
    .setAudience(options.aud ?? sandbox.endpoints.redox.tokenUrl)
    .setIssuedAt(now)
    .setExpirationTime(now + (options.exp ?? 300))
    .sign(options.key ?? rsa.privateKey)
}

function requestToken (sandbox: RunningSandbox, fields: Record<string, string>, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(sandbox.endpoints.redox.tokenUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(fields).toString()
  })
}

function fields (clientAssertion: string): Record<string, string> {
  return { grant_type: 'client_credentials', client_assertion_type: JWT_BEARER, client_assertion: clientAssertion }
}

async function token (sandbox: RunningSandbox): Promise<string> {
  const res = await requestToken(sandbox, fields(await assertion(sandbox)))
  return (await res.json() as { access_token: string }).access_token
}

function fhir (sandbox: RunningSandbox, accessToken?: string): Promise<Response> {
  return fetch(`${sandbox.endpoints.redox.target}/fhir/R4/acme/Development/Patient/_search`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...(accessToken === undefined ? {} : { authorization: `Bearer ${accessToken}` }) },
    body: 'family=Citizen'
  })
}

test('redox: a correctly signed assertion gets a 5-minute token that opens the FHIR API', async (t: TestContext) => {
  const sandbox = await start(t)
  const res = await requestToken(sandbox, fields(await assertion(sandbox)))
  t.assert.strictEqual(res.status, 200)
  t.assert.strictEqual(res.headers.get('cache-control'), 'no-store')
  const body = await res.json() as Record<string, unknown>
  t.assert.deepStrictEqual(Object.keys(body).sort(), ['access_token', 'expires_in', 'token_type'])
  t.assert.strictEqual(body.expires_in, 300)
  t.assert.strictEqual(body.token_type, 'Bearer')

  const api = await fhir(sandbox, String(body.access_token))
  t.assert.strictEqual(api.status, 200)
  const echo = await api.json() as { path: string, bodyBytes: number }
  t.assert.strictEqual(echo.path, '/fhir/R4/acme/Development/Patient/_search')
  t.assert.strictEqual(echo.bodyBytes, 14)
})

test('redox: each flaw in the assertion is refused with invalid_client', async (t: TestContext) => {
  const sandbox = await start(t)
  const impostor = await generateKeyPair('RS384')
  // WebCrypto binds a key to its hash, so RS256 needs a key of its own; the alg is refused before any key is looked at.
  const rs256 = await generateKeyPair('RS256')
  const cases: Array<{ name: string, options: AssertionOptions, description: RegExp }> = [
    { name: 'signed by another key with the same kid', options: { key: impostor.privateKey }, description: /signature/ },
    { name: 'unknown kid', options: { kid: 'other-key' }, description: /kid "other-key"/ },
    { name: 'no kid', options: { kid: undefined }, description: /no kid/ },
    { name: 'wrong aud', options: { aud: 'https://api.redoxengine.com/v2/auth/token' }, description: /aud must be the token URL/ },
    { name: 'expired', options: { exp: -10 }, description: /expired/ },
    { name: 'exp more than 5 minutes ahead', options: { exp: 600 }, description: /more than 300 s ahead/ },
    { name: 'sub is not iss', options: { sub: 'someone-else' }, description: /sub/ },
    { name: 'unknown iss', options: { iss: 'someone-else', sub: 'someone-else' }, description: /iss is not a known client/ },
    { name: 'RS256 instead of RS384', options: { alg: 'RS256', key: rs256.privateKey }, description: /alg must be RS384 or ES384/ },
    { name: 'no typ', options: { typ: undefined }, description: /typ must be JWT/ },
    { name: 'no jti', options: { jti: undefined }, description: /jti/ }
  ]
  for (const c of cases) {
    const res = await requestToken(sandbox, fields(await assertion(sandbox, c.options)))
    const body = await res.json() as { error: string, error_description: string }
    t.assert.strictEqual(res.status, 401, c.name)
    t.assert.strictEqual(body.error, 'invalid_client', c.name)
    t.assert.match(body.error_description, c.description, c.name)
  }
  t.assert.strictEqual(sandbox.stats().redox.tokensIssued, 0)
})

test('redox: a replayed jti is refused', async (t: TestContext) => {
  const sandbox = await start(t)
  const signed = await assertion(sandbox)
  t.assert.strictEqual((await requestToken(sandbox, fields(signed))).status, 200)
  const again = await requestToken(sandbox, fields(signed))
  t.assert.strictEqual(again.status, 401)
  t.assert.deepStrictEqual(await again.json(), { error: 'invalid_client', error_description: 'client_assertion jti was already used' })
})

test('redox: a malformed request is refused the RFC 6749 §5.2 way', async (t: TestContext) => {
  const sandbox = await start(t)
  const signed = await assertion(sandbox)
  const asJson = fetch(sandbox.endpoints.redox.tokenUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(fields(signed)) })
  const basic = { authorization: `Basic ${Buffer.from(`${CLIENT_ID}:secret`).toString('base64')}` }
  const cases: Array<{ name: string, res: Promise<Response>, status: number, error: string, challenge?: string }> = [
    { name: 'JSON body', res: asJson, status: 400, error: 'invalid_request' },
    { name: 'HTTP Basic instead', res: requestToken(sandbox, { grant_type: 'client_credentials' }, basic), status: 401, error: 'invalid_client', challenge: 'Basic realm="redox"' },
    { name: 'HTTP Basic as well', res: requestToken(sandbox, fields(signed), basic), status: 400, error: 'invalid_request' },
    { name: 'wrong assertion type', res: requestToken(sandbox, { ...fields(signed), client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:saml2-bearer' }), status: 401, error: 'invalid_client' },
    { name: 'no assertion type', res: requestToken(sandbox, { grant_type: 'client_credentials', client_assertion: signed }), status: 400, error: 'invalid_request' },
    { name: 'no assertion', res: requestToken(sandbox, { grant_type: 'client_credentials', client_assertion_type: JWT_BEARER }), status: 400, error: 'invalid_request' },
    { name: 'no client authentication', res: requestToken(sandbox, { grant_type: 'client_credentials' }), status: 401, error: 'invalid_client' },
    { name: 'a client secret instead', res: requestToken(sandbox, { grant_type: 'client_credentials', client_id: CLIENT_ID, client_secret: 'x' }), status: 401, error: 'invalid_client' },
    { name: 'not a JWT', res: requestToken(sandbox, fields('not.a.jwt')), status: 401, error: 'invalid_client' },
    { name: 'another grant', res: requestToken(sandbox, { ...fields(signed), grant_type: 'password' }), status: 400, error: 'unsupported_grant_type' }
  ]
  for (const c of cases) {
    const res = await c.res
    t.assert.strictEqual(res.status, c.status, c.name)
    t.assert.strictEqual((await res.json() as { error: string }).error, c.error, c.name)
    t.assert.strictEqual(res.headers.get('www-authenticate'), c.challenge ?? null, c.name)
  }
})

test('redox: ES384 keys work too', async (t: TestContext) => {
  const ec = await generateKeyPair('ES384')
  const sandbox = await start(t, { vendors: { redox: { clients: [{ clientId: CLIENT_ID, publicKey: await exportJWK(ec.publicKey), kid: 'ec-1' }] } } })
  const res = await requestToken(sandbox, fields(await assertion(sandbox, { key: ec.privateKey, alg: 'ES384', kid: 'ec-1' })))
  t.assert.strictEqual(res.status, 200)
})

test('redox: without configured clients, the sandbox makes a key pair and hands out working credentials', async (t: TestContext) => {
  const sandbox = await startSandbox()
  t.after(() => sandbox.close())
  const credential = sandbox.credentials.redox
  t.assert.ok(credential !== undefined)
  t.assert.match(credential.privateKey, /^-----BEGIN PRIVATE KEY-----/)
  const key = await importPKCS8(credential.privateKey, credential.signingAlg)
  const now = Math.floor(Date.now() / 1000)
  const signed = await new SignJWT({ jti: randomUUID() })
    .setProtectedHeader({ alg: credential.signingAlg, kid: credential.keyId, typ: 'JWT' })
    .setIssuer(credential.clientId).setSubject(credential.clientId).setAudience(sandbox.endpoints.redox.tokenUrl)
    .setIssuedAt(now).setExpirationTime(now + 300)
    .sign(key)
  t.assert.strictEqual((await requestToken(sandbox, fields(signed))).status, 200)
})

test('redox: no, expired or revoked token gets 401', async (t: TestContext) => {
  let now = Date.now()
  const sandbox = await start(t, { now: () => now, vendors: { redox: { clients: [{ clientId: CLIENT_ID, publicKey: publicJwk }], tokenTtlSeconds: 1 } } })
  t.assert.strictEqual((await fhir(sandbox)).status, 401)
  const shortLived = await token(sandbox)
  t.assert.strictEqual((await fhir(sandbox, shortLived)).status, 200)
  now += 1000
  t.assert.strictEqual((await fhir(sandbox, shortLived)).status, 401)
  const revoked = await token(sandbox)
  t.assert.strictEqual(sandbox.revoke({ vendor: 'redox' }), 1)
  t.assert.strictEqual((await fhir(sandbox, revoked)).status, 401)
})

test('redox: the FHIR API below /fhir/R4/{organization}/{environment} searches, reads and creates with absolute URLs under that base', async (t: TestContext) => {
  const sandbox = await start(t)
  const base = `${sandbox.endpoints.redox.target}/fhir/R4/acme/Staging`
  const headers = { authorization: `Bearer ${await token(sandbox)}`, 'content-type': 'application/fhir+json' }
  const created = await fetch(`${base}/Patient`, { method: 'POST', headers, body: '{"resourceType":"Patient","active":true}' })
  t.assert.strictEqual(created.status, 201)
  const { id } = await created.json() as { id: string }
  t.assert.strictEqual(created.headers.get('location'), `${base}/Patient/${id}/_history/1`)
  t.assert.strictEqual((await fetch(created.headers.get('location') ?? '', { headers })).status, 200)

  const search = await fetch(`${base}/Patient?_count=3`, { headers })
  t.assert.strictEqual(search.headers.get('content-type'), 'application/fhir+json; charset=utf-8')
  const page = await search.json() as { total: number, link: Array<{ relation: string, url: string }>, entry: Array<{ fullUrl: string }> }
  t.assert.strictEqual(page.total, 4)
  t.assert.deepStrictEqual(page.link.find((link) => link.relation === 'next')?.url, `${base}/Patient?_count=3&page=2`)
  t.assert.ok(page.entry.every((entry) => entry.fullUrl.startsWith(`${base}/Patient/`)))

  // Not modelled: still the echo of what arrived.
  const echo = await (await fetch(`${base}/metadata`, { headers })).json() as { path: string }
  t.assert.strictEqual(echo.path, '/fhir/R4/acme/Staging/metadata')
  sandbox.reset()
  t.assert.strictEqual((await fetch(`${base}/Patient/${id}`, { headers: { authorization: `Bearer ${await token(sandbox)}` } })).status, 404, 'a reset forgets what was created')
})
