import { test, type TestContext } from 'node:test'
import { createPublicKey, generateKeyPairSync, type JsonWebKey } from 'node:crypto'
import { decodeProtectedHeader, jwtVerify } from 'jose'
import { ASSERTION_LIFETIME_S, createAssertionSigner } from '../../src/auth/assertion.js'
import { generateKeyMaterial } from '../../src/auth/keygen.js'
import type { SigningAlg } from '../../src/config/types.js'

const NOW = Date.UTC(2026, 0, 1, 12, 0, 0)
const now = (): number => NOW

test('claims: iss = sub = clientId, aud, unique jti, iat, exp = iat + 60 s; header alg, kid, typ JWT', async (t: TestContext) => {
  t.plan(5)
  const { privateKeyPem, jwks } = await generateKeyMaterial({ kid: 'kid-1' })
  const sign = createAssertionSigner({ clientId: 'client-1', audience: 'https://as.example/token', privateKey: privateKeyPem, keyId: 'kid-1', alg: 'RS384', now })
  const [a, b] = [await sign(), await sign()]
  const publicKey = createPublicKey({ key: jwks.keys[0] as JsonWebKey, format: 'jwk' })
  const { payload } = await jwtVerify(a, publicKey, { algorithms: ['RS384'], currentDate: new Date(NOW) })
  t.assert.deepStrictEqual(decodeProtectedHeader(a), { alg: 'RS384', kid: 'kid-1', typ: 'JWT' })
  t.assert.deepStrictEqual({ ...payload, jti: typeof payload.jti }, {
    iss: 'client-1', sub: 'client-1', aud: 'https://as.example/token', jti: 'string', iat: NOW / 1000, exp: NOW / 1000 + 60
  })
  t.assert.strictEqual(ASSERTION_LIFETIME_S, 60)
  t.assert.ok(ASSERTION_LIFETIME_S <= 300, 'the contract: exp at most 5 minutes ahead')
  t.assert.notStrictEqual(payload.jti, (await jwtVerify(b, publicKey, { currentDate: new Date(NOW) })).payload.jti)
})

test('no kid in the header when none is configured', async (t: TestContext) => {
  t.plan(1)
  const { privateKeyPem } = await generateKeyMaterial()
  const sign = createAssertionSigner({ clientId: 'c', audience: 'a', privateKey: privateKeyPem, alg: 'RS384', now })
  t.assert.deepStrictEqual(decodeProtectedHeader(await sign()), { alg: 'RS384', typ: 'JWT' })
})

test('a PKCS#1 RSA key (BEGIN RSA PRIVATE KEY) signs too', async (t: TestContext) => {
  t.plan(2)
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const pem = privateKey.export({ type: 'pkcs1', format: 'pem' }) as string
  t.assert.match(pem, /^-----BEGIN RSA PRIVATE KEY-----/)
  const sign = createAssertionSigner({ clientId: 'c', audience: 'a', privateKey: pem, alg: 'RS256', now })
  const { protectedHeader } = await jwtVerify(await sign(), publicKey, { currentDate: new Date(NOW) })
  t.assert.strictEqual(protectedHeader.alg, 'RS256')
})

for (const alg of ['RS512', 'PS256', 'ES256', 'ES384'] as const) {
  test(`${alg} keys from keygen sign verifiable assertions`, async (t: TestContext) => {
    t.plan(1)
    const { privateKeyPem, jwks } = await generateKeyMaterial({ alg })
    const sign = createAssertionSigner({ clientId: 'c', audience: 'a', privateKey: privateKeyPem, alg, now })
    const publicKey = createPublicKey({ key: jwks.keys[0] as JsonWebKey, format: 'jwk' })
    const { protectedHeader } = await jwtVerify(await sign(), publicKey, { algorithms: [alg], currentDate: new Date(NOW) })
    t.assert.strictEqual(protectedHeader.alg, alg)
  })
}

test('an unreadable key or one that does not fit the algorithm is refused at construction, without quoting it', async (t: TestContext) => {
  const rsa = (await generateKeyMaterial({ alg: 'RS256' })).privateKeyPem
  const p256 = (await generateKeyMaterial({ alg: 'ES256' })).privateKeyPem
  const rsa1024 = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string
  const cases: Array<[string, SigningAlg, RegExp]> = [
    ['-----BEGIN PRIVATE KEY-----\nnot-a-key-secret\n-----END PRIVATE KEY-----', 'RS256', /^"privateKey" is not a PEM private key \(PKCS#8 or PKCS#1\)$/],
    [rsa1024, 'RS256', /^"privateKey" does not fit signing algorithm RS256$/],
    [rsa, 'ES256', /^"privateKey" does not fit signing algorithm ES256$/],
    [p256, 'RS384', /^"privateKey" does not fit signing algorithm RS384$/],
    [p256, 'ES384', /^"privateKey" does not fit signing algorithm ES384$/]
  ]
  t.plan(cases.length)
  for (const [privateKey, alg, message] of cases) {
    t.assert.throws(() => createAssertionSigner({ clientId: 'c', audience: 'a', privateKey, alg, now }), (err: Error) => err instanceof TypeError && message.test(err.message))
  }
})
