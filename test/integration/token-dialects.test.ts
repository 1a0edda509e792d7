/**
 * Each vendor's token request, exactly as its public page describes it
 * (shared/vendors/*.txt). The fake endpoints refuse anything else with an
 * RFC 6749 error, so a passing test means the request had that shape.
 */
import { test, type TestContext } from 'node:test'
import { createPublicKey } from 'node:crypto'
import { decodeProtectedHeader, jwtVerify } from 'jose'
import { Agent, type Dispatcher } from 'undici'
import { createCredentialSource } from '../../src/auth/index.js'
import { generateKeyMaterial } from '../../src/auth/keygen.js'
import { errorReply, oauthConfig, startTokenEndpoint, tokenReply, type RecordedRequest, type Reply } from '../helpers/token-endpoint.js'

const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'

function form (request: RecordedRequest): Record<string, string> {
  return Object.fromEntries(new URLSearchParams(request.body))
}

function json (request: RecordedRequest): Record<string, unknown> {
  try {
    return JSON.parse(request.body) as Record<string, unknown>
  } catch {
    return {}
  }
}

/** The field names, sorted: a request must carry exactly these. */
function keys (fields: object): string {
  return Object.keys(fields).sort().join(',')
}

function isPost (request: RecordedRequest, contentType: string): boolean {
  return request.method === 'POST' && request.path === '/token' && request.headers['content-type'] === contentType
}

test('Halaxy: JSON body with grant_type, client_id and client_secret', async (t: TestContext) => {
  t.plan(3)
  const endpoint = await startTokenEndpoint(t, (request): Reply => {
    const body = json(request)
    const ok = isPost(request, 'application/json') && request.headers.authorization === undefined &&
      keys(body) === 'client_id,client_secret,grant_type' &&
      body.grant_type === 'client_credentials' && body.client_id === 'halaxy-id' && body.client_secret === 'halaxy-secret'
    return ok ? tokenReply('halaxy-token', 3600) : errorReply(400, 'invalid_request')
  })
  const source = createCredentialSource('halaxy', oauthConfig(endpoint.url, {
    clientId: 'halaxy-id', clientSecret: 'halaxy-secret', bodyEncoding: 'json'
  }))
  t.after(() => source.close())
  t.assert.strictEqual(await source.authorization(), 'Bearer halaxy-token')
  t.assert.strictEqual(endpoint.requests.length, 1)
  t.assert.strictEqual(endpoint.requests[0]?.headers.accept, 'application/json')
})

test('HealthHero: form body with client_id and client_secret', async (t: TestContext) => {
  t.plan(2)
  const endpoint = await startTokenEndpoint(t, (request): Reply => {
    const body = form(request)
    const ok = isPost(request, 'application/x-www-form-urlencoded') && request.headers.authorization === undefined &&
      keys(body) === 'client_id,client_secret,grant_type' &&
      body.grant_type === 'client_credentials' && body.client_id === 'hh-id' && body.client_secret === 'hh secret&='
    return ok ? tokenReply('hh-token', 3600) : errorReply(401, 'invalid_client')
  })
  const source = createCredentialSource('healthhero', oauthConfig(endpoint.url, { clientId: 'hh-id', clientSecret: 'hh secret&=' }))
  t.after(() => source.close())
  t.assert.strictEqual(await source.authorization(), 'Bearer hh-token')
  t.assert.strictEqual(endpoint.requests.length, 1)
})

test('Photon: JSON body with the audience', async (t: TestContext) => {
  t.plan(2)
  const endpoint = await startTokenEndpoint(t, (request): Reply => {
    const body = json(request)
    const ok = isPost(request, 'application/json') &&
      keys(body) === 'audience,client_id,client_secret,grant_type' &&
      body.grant_type === 'client_credentials' && body.client_id === 'photon-id' &&
      body.client_secret === 'photon-secret' && body.audience === 'https://api.neutron.health'
    return ok ? tokenReply('photon-token', 86400, { scope: 'read:patient write:patient' }) : errorReply(403, 'access_denied')
  })
  const source = createCredentialSource('photon', oauthConfig(endpoint.url, {
    clientId: 'photon-id', clientSecret: 'photon-secret', bodyEncoding: 'json', audience: 'https://api.neutron.health'
  }))
  t.after(() => source.close())
  t.assert.strictEqual(await source.authorization(), 'Bearer photon-token')
  t.assert.strictEqual(endpoint.requests.length, 1)
})

test('NikoHealth: HTTP Basic with id and secret form-urlencoded first (RFC 6749 §2.3.1), body only grant_type', async (t: TestContext) => {
  t.plan(3)
  const clientId = 'a:b'
  const clientSecret = 'p@ss word+é'
  const endpoint = await startTokenEndpoint(t, (request): Reply => {
    const [scheme, encoded = ''] = (request.headers.authorization ?? '').split(' ')
    const pair = Buffer.from(encoded, 'base64').toString('utf8')
    const colon = pair.indexOf(':')
    // The server's side of §2.3.1: split on the first colon, then form-decode each half.
    const decode = (s: string): string => decodeURIComponent(s.replace(/\+/g, '%20'))
    const ok = isPost(request, 'application/x-www-form-urlencoded') && scheme === 'Basic' &&
      decode(pair.slice(0, colon)) === clientId && decode(pair.slice(colon + 1)) === clientSecret &&
      request.body === 'grant_type=client_credentials'
    return ok ? tokenReply('BE55CF536EC46D12F9FDBF1EFD831E086B121939B9806DF43F3A6043C67DB0AC', 1200, { scope: 'external' }) : errorReply(401, 'invalid_client')
  })
  const source = createCredentialSource('nikohealth', oauthConfig(endpoint.url, { clientId, clientSecret, clientAuth: 'client_secret_basic' }))
  t.after(() => source.close())
  t.assert.strictEqual(await source.authorization(), 'Bearer BE55CF536EC46D12F9FDBF1EFD831E086B121939B9806DF43F3A6043C67DB0AC')
  // The exact bytes: ':' → %3A, '@' → %40, space → '+', '+' → %2B, é → UTF-8 percent-encoded.
  t.assert.strictEqual(endpoint.requests[0]?.headers.authorization,
    `Basic ${Buffer.from('a%3Ab:p%40ss+word%2B%C3%A9').toString('base64')}`)
  t.assert.strictEqual(endpoint.requests.length, 1)
})

test('Redox: form with a signed client assertion (RS384, kid, typ JWT), a new jti each time', async (t: TestContext) => {
  t.plan(6)
  const { privateKeyPem, jwks } = await generateKeyMaterial({ kid: 'redox-kid', alg: 'RS384' })
  const publicKey = createPublicKey({ key: jwks.keys[0] as import('node:crypto').JsonWebKey, format: 'jwk' })
  const clientId = 'redox-client'
  const jtis: unknown[] = []
  const endpoint = await startTokenEndpoint(t, async (request): Promise<Reply> => {
    const body = form(request)
    if (!isPost(request, 'application/x-www-form-urlencoded') || request.headers.authorization !== undefined ||
      keys(body) !== 'client_assertion,client_assertion_type,grant_type' ||
      body.grant_type !== 'client_credentials' || body.client_assertion_type !== JWT_BEARER) {
      return errorReply(400, 'invalid_request')
    }
    try {
      const assertion = body.client_assertion ?? ''
      const { payload, protectedHeader } = await jwtVerify(assertion, publicKey, {
        algorithms: ['RS384'], typ: 'JWT', issuer: clientId, subject: clientId, audience: endpoint.url, requiredClaims: ['jti', 'iat', 'exp']
      })
      const header = decodeProtectedHeader(assertion)
      if (protectedHeader.kid !== 'redox-kid' || header.typ !== 'JWT') return errorReply(401, 'invalid_client')
      if ((payload.exp as number) - (payload.iat as number) > 300) return errorReply(401, 'invalid_client')
      if (jtis.includes(payload.jti)) return errorReply(401, 'invalid_client')
      jtis.push(payload.jti)
    } catch {
      return errorReply(401, 'invalid_client')
    }
    return tokenReply(`redox-token-${jtis.length}`, 300)
  })
  const source = createCredentialSource('redox', oauthConfig(endpoint.url, {
    clientId, clientAuth: 'private_key_jwt', privateKey: privateKeyPem, keyId: 'redox-kid', signingAlg: 'RS384'
  }))
  t.after(() => source.close())
  const first = await source.authorization()
  t.assert.strictEqual(first, 'Bearer redox-token-1')
  // It worked once, then the vendor revoked it.
  source.confirmed?.(first as string)
  source.invalidate(first as string)
  t.assert.strictEqual(await source.authorization(), 'Bearer redox-token-2')
  t.assert.strictEqual(endpoint.requests.length, 2)
  t.assert.strictEqual(jtis.length, 2)
  t.assert.notStrictEqual(jtis[0], jtis[1])
  t.assert.ok(!endpoint.requests.some((r) => r.body.includes('client_id=')), 'private_key_jwt sends no client_id field')
})

test('scope is sent only when configured and non-empty; audience and params when configured', async (t: TestContext) => {
  t.plan(4)
  const endpoint = await startTokenEndpoint(t, (request) => tokenReply(`token-${request.body.length}`, 3600))
  const cases: Array<[Partial<Parameters<typeof oauthConfig>[1]>, Record<string, string>]> = [
    [{}, { grant_type: 'client_credentials', client_id: 'client-id', client_secret: 'client-secret' }],
    [{ scope: '' }, { grant_type: 'client_credentials', client_id: 'client-id', client_secret: 'client-secret' }],
    [{ scope: 'read write' }, { grant_type: 'client_credentials', client_id: 'client-id', client_secret: 'client-secret', scope: 'read write' }],
    // params add fields but cannot replace grant_type
    [{ audience: 'https://api.example', params: { resource: 'urn:x', grant_type: 'password' } },
      { resource: 'urn:x', grant_type: 'client_credentials', audience: 'https://api.example', client_id: 'client-id', client_secret: 'client-secret' }]
  ]
  for (const [i, [overrides, expected]] of cases.entries()) {
    const source = createCredentialSource(`scope-${i}`, oauthConfig(endpoint.url, overrides))
    await source.authorization()
    source.close()
    t.assert.deepStrictEqual(form(endpoint.requests[i] as RecordedRequest), expected)
  }
})

test('the dispatcher given in deps carries the token request (TLS options, proxies)', async (t: TestContext) => {
  t.plan(2)
  const endpoint = await startTokenEndpoint(t, () => tokenReply('via-dispatcher', 3600))
  const seen: string[] = []
  const agent = new Agent()
  t.after(() => agent.close())
  const dispatcher = agent.compose((dispatch: Dispatcher['dispatch']) => (options, handler) => {
    seen.push(`${options.method} ${options.path}`)
    return dispatch(options, handler)
  })
  const source = createCredentialSource('dispatcher', oauthConfig(endpoint.url), { dispatcher })
  t.after(() => source.close())
  t.assert.strictEqual(await source.authorization(), 'Bearer via-dispatcher')
  t.assert.deepStrictEqual(seen, ['POST /token'])
})
