import { test, type TestContext } from 'node:test'
import { startOrigin } from '../helpers/origin.js'
import { startSidecar } from '../helpers/sidecar.js'
import { startTokenEndpoint, tokenReply } from '../helpers/token-endpoint.js'

/** An upstream that revokes the first token after its first use. */
async function revokingSetup (t: TestContext, retry?: Record<string, unknown>) {
  let issued = 0
  const tokenEndpoint = await startTokenEndpoint(t, () => tokenReply(`token-${++issued}`, 3600))
  const revoked = new Set<string>()
  const seen: Array<{ method: string, authorization: string, body: string }> = []
  const origin = await startOrigin(t, (req, res, recorded) => {
    req.on('end', () => {
      const authorization = req.headers.authorization ?? ''
      seen.push({ method: req.method ?? '', authorization, body: recorded.body.toString() })
      if (authorization === 'Bearer token-1' && seen.length > 1) revoked.add(authorization)
      if (revoked.has(authorization)) {
        res.writeHead(401, { 'www-authenticate': 'Bearer error="invalid_token"', 'content-type': 'application/json' })
        res.end('{"error":"invalid_token"}')
        return
      }
      res.end(`ok ${authorization}`)
    })
  })
  const sidecar = await startSidecar(t, {
    upstreams: {
      vendor: {
        target: origin.url,
        auth: { type: 'oauth2_client_credentials', tokenUrl: tokenEndpoint.url, clientId: 'id', clientSecret: 'repair-secret' },
        ...(retry === undefined ? {} : { retry })
      }
    }
  })
  return { tokenEndpoint, seen, sidecar }
}

test('a 401 invalidates the token; a GET is retried once with a fresh token, transparently', async (t: TestContext) => {
  const { tokenEndpoint, seen, sidecar } = await revokingSetup(t)
  t.assert.strictEqual(await (await fetch(`${sidecar.url}/vendor/a`)).text(), 'ok Bearer token-1')
  const res = await fetch(`${sidecar.url}/vendor/b`)
  t.assert.strictEqual(res.status, 200)
  t.assert.strictEqual(await res.text(), 'ok Bearer token-2')
  t.assert.deepStrictEqual(seen.map((s) => s.authorization), ['Bearer token-1', 'Bearer token-1', 'Bearer token-2'])
  t.assert.strictEqual(tokenEndpoint.requests.length, 2)
  const line = sidecar.logs.entries().find((entry) => entry.msg === 'request completed' && entry.path === '/vendor/b')
  t.assert.strictEqual(line?.attempts, 2)
})

test('a PUT body is kept and replayed byte for byte after a 401', async (t: TestContext) => {
  const { seen, sidecar } = await revokingSetup(t)
  await (await fetch(`${sidecar.url}/vendor/a`)).text()
  const body = JSON.stringify({ resourceType: 'Patient', name: [{ family: 'Nguyễn' }], big: 1e21 }) + '  '
  const res = await fetch(`${sidecar.url}/vendor/Patient/1`, { method: 'PUT', body, headers: { 'content-type': 'application/fhir+json' } })
  t.assert.strictEqual(res.status, 200)
  const puts = seen.filter((s) => s.method === 'PUT')
  t.assert.strictEqual(puts.length, 2)
  t.assert.deepStrictEqual(puts.map((s) => s.body), [body, body])
})

test('a POST is not retried: the 401 goes back to the app, and the next request gets a fresh token', async (t: TestContext) => {
  const { tokenEndpoint, seen, sidecar } = await revokingSetup(t)
  await (await fetch(`${sidecar.url}/vendor/a`)).text()
  const refused = await fetch(`${sidecar.url}/vendor/b`, { method: 'POST', body: 'x' })
  t.assert.strictEqual(refused.status, 401)
  t.assert.strictEqual(refused.headers.get('www-authenticate'), 'Bearer error="invalid_token"')
  t.assert.strictEqual(await refused.text(), '{"error":"invalid_token"}')
  const next = await fetch(`${sidecar.url}/vendor/c`)
  t.assert.strictEqual(await next.text(), 'ok Bearer token-2')
  t.assert.strictEqual(seen.length, 3)
  t.assert.strictEqual(tokenEndpoint.requests.length, 2)
})

test('retry.on401: 0 passes the 401 back even for a GET', async (t: TestContext) => {
  const { seen, sidecar } = await revokingSetup(t, { on401: 0 })
  await (await fetch(`${sidecar.url}/vendor/a`)).text()
  t.assert.strictEqual((await fetch(`${sidecar.url}/vendor/b`)).status, 401)
  t.assert.strictEqual(seen.length, 2)
})
