import { test, type TestContext } from 'node:test'
import { createCredentialSource } from '../../src/auth/index.js'

test('none: no Authorization, synchronously', (t: TestContext) => {
  t.plan(2)
  const source = createCredentialSource('open', { type: 'none' })
  t.assert.strictEqual(source.authorization(), undefined)
  t.assert.deepStrictEqual(source.status(), { type: 'none', state: 'none' })
})

test('static_bearer: the same Bearer value every time; invalidate cannot drop it; status never holds it', (t: TestContext) => {
  t.plan(4)
  const source = createCredentialSource('static', { type: 'static_bearer', token: 'static-secret' })
  t.assert.strictEqual(source.authorization(), 'Bearer static-secret')
  source.invalidate('Bearer static-secret')
  t.assert.strictEqual(source.authorization(), 'Bearer static-secret')
  t.assert.deepStrictEqual(source.status(), { type: 'static_bearer', state: 'valid' })
  t.assert.ok(!JSON.stringify(source.status()).includes('static-secret'))
  source.close()
})
