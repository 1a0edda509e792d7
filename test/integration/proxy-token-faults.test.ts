import { test, type TestContext } from 'node:test'
import { startOrigin } from '../helpers/origin.js'
import { startSidecar } from '../helpers/sidecar.js'
import { errorReply, HANG, startTokenEndpoint, type TokenHandler } from '../helpers/token-endpoint.js'

const SECRET = 'fault-secret-do-not-leak'

async function sidecarWith (t: TestContext, handler: TokenHandler, tokenTimeout = '10s') {
  const tokenEndpoint = await startTokenEndpoint(t, handler)
  const origin = await startOrigin(t)
  const sidecar = await startSidecar(t, {
    upstreams: {
      vendor: {
        target: origin.url,
        auth: { type: 'oauth2_client_credentials', tokenUrl: tokenEndpoint.url, clientId: 'id', clientSecret: SECRET, timeout: tokenTimeout }
      }
    }
  })
  return { origin, sidecar, tokenEndpoint }
}

const cases: Array<[string, TokenHandler, RegExp, string?]> = [
  ['an RFC 6749 error', () => errorReply(401, 'invalid_client'), /HTTP 401.*invalid_client/],
  ['a body that is not JSON', () => ({ status: 200, body: '<html>oops</html>' }), /not JSON/i],
  ['no access_token', () => ({ body: { token_type: 'Bearer', expires_in: 60 } }), /access_token/],
  ['a token_type other than bearer', () => ({ body: { access_token: 'mac-token-x', token_type: 'mac' } }), /token_type/],
  ['no answer within the token timeout', () => HANG, /timed out/i, '300ms']
]

for (const [name, handler, detail, timeout] of cases) {
  test(`token endpoint fault — ${name}: the app gets 502 problem+json saying which, and no secret`, async (t: TestContext) => {
    const { origin, sidecar } = await sidecarWith(t, handler, timeout)
    const res = await fetch(`${sidecar.url}/vendor/Patient`)
    t.assert.strictEqual(res.status, 502)
    t.assert.strictEqual(res.headers.get('content-type'), 'application/problem+json; charset=utf-8')
    const text = await res.text()
    const problem = JSON.parse(text) as Record<string, unknown>
    t.assert.strictEqual(problem.code, 'TG_TOKEN_FETCH_FAILED')
    t.assert.strictEqual(problem.upstream, 'vendor')
    t.assert.match(String(problem.detail), detail)
    t.assert.ok(!text.includes(SECRET) && !text.includes('mac-token-x'))
    t.assert.ok(!sidecar.logs.text().includes(SECRET))
    t.assert.strictEqual(origin.requests.length, 0, 'no request without a token')
  })
}

test('token endpoint refusing connections: 502, and the failure is remembered (no hammering)', async (t: TestContext) => {
  const { tokenEndpoint, origin, sidecar } = await sidecarWith(t, () => errorReply(503, 'temporarily_unavailable'))
  await tokenEndpoint.close()
  const first = await fetch(`${sidecar.url}/vendor/a`)
  t.assert.strictEqual(first.status, 502)
  t.assert.match(String((await first.json() as Record<string, unknown>).detail), /refused|ECONNREFUSED/i)
  const burst = await Promise.all(Array.from({ length: 20 }, async () => (await fetch(`${sidecar.url}/vendor/b`)).status))
  t.assert.deepStrictEqual(new Set(burst), new Set([502]))
  t.assert.strictEqual(origin.requests.length, 0)
  const status = sidecar.sidecar.upstreams[0]?.credentials.status()
  t.assert.strictEqual(status?.fetches?.failed, 1, 'one attempt during the backoff')
})
