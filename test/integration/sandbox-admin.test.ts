// The sandbox as a whole: its URL layout, the /_sandbox endpoints tests use
// (stats, revoke, reset), its bounds, and its option checks.
import { test, type TestContext } from 'node:test'
import { PRESET_NAMES } from '../../src/config/presets.js'
import { sandboxEndpoints } from '../../src/sandbox/layout.js'
import { buildSandbox, startSandbox, type RunningSandbox } from '../../src/sandbox/server.js'

async function start (t: TestContext, options: Parameters<typeof startSandbox>[0] = {}): Promise<RunningSandbox> {
  const sandbox = await startSandbox(options)
  t.after(() => sandbox.close())
  return sandbox
}

async function halaxyToken (sandbox: RunningSandbox, vendor: 'halaxy' | 'halaxy-eu' = 'halaxy'): Promise<string> {
  const client = sandbox.credentials[vendor]
  const res = await fetch(sandbox.endpoints[vendor].tokenUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ grant_type: 'client_credentials', client_id: client.clientId, client_secret: client.clientSecret })
  })
  return (await res.json() as { access_token: string }).access_token
}

function patients (sandbox: RunningSandbox, accessToken: string, vendor: 'halaxy' | 'halaxy-eu' = 'halaxy'): Promise<Response> {
  return fetch(`${sandbox.endpoints[vendor].target}/Patient`, { headers: { authorization: `Bearer ${accessToken}` } })
}

test('sandbox: every preset has a mount, and /_sandbox lists the same URLs as sandboxEndpoints', async (t: TestContext) => {
  const sandbox = await start(t)
  t.assert.match(sandbox.url, /^http:\/\/127\.0\.0\.1:\d+$/)
  t.assert.deepStrictEqual(Object.keys(sandbox.endpoints), [...PRESET_NAMES])
  t.assert.deepStrictEqual(sandbox.endpoints, sandboxEndpoints(`${sandbox.url}/`))
  t.assert.deepStrictEqual(sandbox.endpoints.halaxy, { target: `${sandbox.url}/halaxy/main`, tokenUrl: `${sandbox.url}/halaxy/main/oauth/token` })
  t.assert.deepStrictEqual(sandbox.endpoints.nikohealth, { target: `${sandbox.url}/nikohealth/api`, tokenUrl: `${sandbox.url}/nikohealth/api/identity/connect/token` })
  const listed = await (await fetch(`${sandbox.url}/_sandbox`)).json()
  t.assert.deepStrictEqual(listed, { vendors: sandbox.endpoints })
})

test('sandbox: stats count per vendor, over HTTP and in process, and reset zeroes them', async (t: TestContext) => {
  const sandbox = await start(t)
  const accessToken = await halaxyToken(sandbox)
  await (await patients(sandbox, accessToken)).arrayBuffer()
  await (await patients(sandbox, 'nope')).arrayBuffer()

  const stats = await (await fetch(`${sandbox.url}/_sandbox/stats`)).json() as Record<string, Record<string, number>>
  t.assert.deepStrictEqual(Object.keys(stats), [...PRESET_NAMES])
  t.assert.deepStrictEqual(stats.halaxy, { tokenRequests: 1, tokensIssued: 1, tokenErrors: 0, resourceRequests: 2, resourceUnauthorized: 1, rateLimited: 0 })
  t.assert.deepStrictEqual(stats, JSON.parse(JSON.stringify(sandbox.stats())))

  const reset = await fetch(`${sandbox.url}/_sandbox/reset`, { method: 'POST' })
  t.assert.strictEqual(reset.status, 204)
  t.assert.strictEqual(sandbox.stats().halaxy.tokenRequests, 0)
  // Reset also forgets issued tokens.
  t.assert.strictEqual((await patients(sandbox, accessToken)).status, 401)
})

test('sandbox: POST /_sandbox/revoke revokes the matching live tokens only', async (t: TestContext) => {
  const sandbox = await start(t)
  const au = await halaxyToken(sandbox)
  const eu = await halaxyToken(sandbox, 'halaxy-eu')

  const revokeAu = await fetch(`${sandbox.url}/_sandbox/revoke`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ vendor: 'halaxy' }) })
  t.assert.deepStrictEqual(await revokeAu.json(), { revoked: 1 })
  t.assert.strictEqual((await patients(sandbox, au)).status, 401)
  t.assert.strictEqual((await patients(sandbox, eu, 'halaxy-eu')).status, 200)

  const revokeAll = await fetch(`${sandbox.url}/_sandbox/revoke`, { method: 'POST' })
  t.assert.deepStrictEqual(await revokeAll.json(), { revoked: 1 })
  t.assert.strictEqual((await patients(sandbox, eu, 'halaxy-eu')).status, 401)

  for (const body of [{ vendor: 'acme' }, { clientId: 7 }, { vendr: 'halaxy' }]) {
    const bad = await fetch(`${sandbox.url}/_sandbox/revoke`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
    t.assert.strictEqual(bad.status, 400, JSON.stringify(body))
  }
})

test('sandbox: the token store is bounded; the oldest token is forgotten first', async (t: TestContext) => {
  const sandbox = await start(t, { maxTokens: 2 })
  const first = await halaxyToken(sandbox)
  const second = await halaxyToken(sandbox)
  const third = await halaxyToken(sandbox)
  t.assert.strictEqual((await patients(sandbox, first)).status, 401)
  t.assert.strictEqual((await patients(sandbox, second)).status, 200)
  t.assert.strictEqual((await patients(sandbox, third)).status, 200)
})

test('sandbox: buildSandbox does not listen; inject works', async (t: TestContext) => {
  const sandbox = buildSandbox()
  t.after(() => sandbox.app.close())
  const res = await sandbox.app.inject({ method: 'GET', url: '/halaxy/main/Patient' })
  t.assert.strictEqual(res.statusCode, 401)
  t.assert.strictEqual(sandbox.app.server.listening, false)
})

test('sandbox: misuse of the options throws a TypeError naming the option', (t: TestContext) => {
  const cases: Array<[unknown, RegExp]> = [
    [{ vendors: { acme: {} } }, /"vendors\.acme" is not a sandbox vendor/],
    [{ vendors: { halaxy: { clients: [] } } }, /"vendors\.halaxy\.clients" must not be empty/],
    [{ vendors: { halaxy: { tokenTtlSeconds: 0 } } }, /"vendors\.halaxy\.tokenTtlSeconds" must be a positive number/],
    [{ vendors: { halaxy: { rateLimit: { requests: 0, windowMs: 1000 } } } }, /"vendors\.halaxy\.rateLimit\.requests"/],
    [{ vendors: { redox: { clients: [{ clientId: 'a', publicKey: { kty: 'RSA', n: 'x', e: 'AQAB', d: 'y', kid: 'k' } }] } } }, /private key material/],
    [{ vendors: { redox: { clients: [{ clientId: 'a', publicKey: { kty: 'RSA', n: 'x', e: 'AQAB' } }] } } }, /needs a kid/],
    [{ maxTokens: 0 }, /"maxTokens"/]
  ]
  for (const [options, message] of cases) {
    t.assert.throws(() => buildSandbox(options as never), (err: Error) => err instanceof TypeError && message.test(err.message), message.source)
  }
})
