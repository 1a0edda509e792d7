import { test, type TestContext } from 'node:test'
import { credentialKey } from '../../src/auth/fingerprint.js'
import { oauthConfig } from '../helpers/token-endpoint.js'

const base = oauthConfig('https://as.example/token', { clientSecret: 'the-secret', scope: 'a b', params: { x: '1', y: '2' } })

test('the key names the upstream and holds a digest, never the secret', (t: TestContext) => {
  t.plan(2)
  const key = credentialKey('halaxy', base)
  t.assert.match(key, /^halaxy:[\w-]{43}$/)
  t.assert.ok(!key.includes('the-secret'))
})

test('every credential that changes the token changes the key; params order and unrelated settings do not', (t: TestContext) => {
  const key = credentialKey('u', base)
  const changed = [
    { tokenUrl: 'https://other.example/token' },
    { clientId: 'other' },
    { clientSecret: 'rotated' },
    { privateKey: 'pem' },
    { clientAuth: 'client_secret_basic' as const },
    { scope: 'a' },
    { audience: 'https://api.example' },
    { params: { x: '1', y: '3' } }
  ]
  t.plan(changed.length + 3)
  for (const overrides of changed) t.assert.notStrictEqual(credentialKey('u', { ...base, ...overrides }), key, JSON.stringify(Object.keys(overrides)))
  t.assert.notStrictEqual(credentialKey('v', base), key, 'another upstream')
  t.assert.strictEqual(credentialKey('u', { ...base, params: { y: '2', x: '1' } }), key, 'params order')
  t.assert.strictEqual(credentialKey('u', { ...base, timeoutMs: 1, refreshBeforeMs: 1, maxTokenTtlMs: 1 }), key, 'timing settings')
})
