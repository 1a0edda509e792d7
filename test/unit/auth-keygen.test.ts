import { test, type TestContext } from 'node:test'
import { createPrivateKey, createPublicKey, type JsonWebKey } from 'node:crypto'
import { calculateJwkThumbprint } from 'jose'
import { generateKeyMaterial } from '../../src/auth/keygen.js'

test('default: RS384, RSA 2048, PKCS#8 PEM, public JWKS with kid (thumbprint), alg and use', async (t: TestContext) => {
  t.plan(6)
  const { privateKeyPem, jwks } = await generateKeyMaterial()
  t.assert.match(privateKeyPem, /^-----BEGIN PRIVATE KEY-----\n/)
  const key = createPrivateKey(privateKeyPem)
  t.assert.deepStrictEqual([key.asymmetricKeyType, key.asymmetricKeyDetails?.modulusLength], ['rsa', 2048])
  t.assert.strictEqual(jwks.keys.length, 1)
  const [jwk] = jwks.keys
  t.assert.deepStrictEqual([jwk?.kty, jwk?.alg, jwk?.use], ['RSA', 'RS384', 'sig'])
  t.assert.strictEqual(jwk?.d, undefined, 'public only')
  const { kid, alg, use, ...bare } = jwk ?? {}
  t.assert.strictEqual(kid, await calculateJwkThumbprint(bare))
})

test('a given kid; EC curves for ES256 and ES384; the JWK is the private key\'s public half', async (t: TestContext) => {
  t.plan(4)
  const es256 = await generateKeyMaterial({ kid: 'my-kid', alg: 'ES256' })
  const es384 = await generateKeyMaterial({ alg: 'ES384' })
  t.assert.deepStrictEqual([es256.jwks.keys[0]?.kid, es256.jwks.keys[0]?.crv], ['my-kid', 'P-256'])
  t.assert.strictEqual(es384.jwks.keys[0]?.crv, 'P-384')
  const fromPrivate = createPublicKey(createPrivateKey(es256.privateKeyPem)).export({ format: 'jwk' })
  const published = createPublicKey({ key: es256.jwks.keys[0] as JsonWebKey, format: 'jwk' }).export({ format: 'jwk' })
  t.assert.deepStrictEqual(fromPrivate, published)
  t.assert.strictEqual(es256.jwks.keys[0]?.alg, 'ES256')
})
