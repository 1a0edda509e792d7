import { test, type TestContext } from 'node:test'
import { JWT_BEARER_ASSERTION, createClientAuth } from '../../src/auth/client-auth.js'
import { generateKeyMaterial } from '../../src/auth/keygen.js'
import { oauthConfig } from '../helpers/token-endpoint.js'

const now = Date.now

test('client_secret_post: id and secret as body fields, no header', (t: TestContext) => {
  t.plan(3)
  const auth = createClientAuth(oauthConfig('https://as.example/token', { clientId: 'id', clientSecret: 's' }), now)
  t.assert.deepStrictEqual(auth.headers, {})
  t.assert.deepStrictEqual(auth.fields, { client_id: 'id', client_secret: 's' })
  t.assert.strictEqual(auth.perRequest, undefined)
})

test('client_secret_basic: each half form-urlencoded before base64 (RFC 6749 §2.3.1), computed once', (t: TestContext) => {
  const cases: Array<[string, string, string]> = [
    ['plain', 'secret', 'plain:secret'],
    ['a:b', 'p@ss word+', 'a%3Ab:p%40ss+word%2B'],
    ['ü/~*', "!'()=&%", '%C3%BC%2F%7E*:%21%27%28%29%3D%26%25']
  ]
  t.plan(cases.length * 2)
  for (const [clientId, clientSecret, encoded] of cases) {
    const auth = createClientAuth(oauthConfig('https://as.example/token', { clientId, clientSecret, clientAuth: 'client_secret_basic' }), now)
    t.assert.deepStrictEqual(auth.headers, { authorization: `Basic ${Buffer.from(encoded).toString('base64')}` })
    t.assert.deepStrictEqual(auth.fields, {})
  }
})

test('private_key_jwt: assertion type fixed, a new assertion per request', async (t: TestContext) => {
  t.plan(3)
  const { privateKeyPem } = await generateKeyMaterial()
  const { clientSecret, ...config } = oauthConfig('https://as.example/token', { clientAuth: 'private_key_jwt', privateKey: privateKeyPem })
  const auth = createClientAuth(config, now)
  t.assert.deepStrictEqual(auth.fields, { client_assertion_type: JWT_BEARER_ASSERTION })
  const [a, b] = [await auth.perRequest?.(), await auth.perRequest?.()]
  t.assert.deepStrictEqual(Object.keys(a ?? {}), ['client_assertion'])
  t.assert.notStrictEqual(a?.client_assertion, b?.client_assertion)
})

test('a missing credential is a TypeError at construction', (t: TestContext) => {
  t.plan(2)
  const { clientSecret, ...noSecret } = oauthConfig('https://as.example/token')
  t.assert.throws(() => createClientAuth({ ...noSecret, clientAuth: 'client_secret_basic' }, now), /"clientSecret" is required/)
  t.assert.throws(() => createClientAuth({ ...noSecret, clientAuth: 'private_key_jwt' }, now), /"privateKey" is required/)
})
