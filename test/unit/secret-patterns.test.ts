import { generateKeyPairSync } from 'node:crypto'
import { test, type TestContext } from 'node:test'
import { SignJWT } from 'jose'
// @ts-expect-error -- a plain .mjs script shared with scripts/test.mjs, no types
import { LEAKS } from '../../scripts/secret-patterns.mjs'
import { createCensor } from '../../src/logger.js'

const patterns = LEAKS as Array<[string, RegExp]>
const leaks = (text: string): string[] => patterns.filter(([, pattern]) => pattern.test(text)).map(([kind]) => kind)

test('the output scan recognises each kind of credential it must never see', async (t: TestContext) => {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const pkcs8 = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
  const pkcs1 = privateKey.export({ type: 'pkcs1', format: 'pem' }).toString()
  const jwt = await new SignJWT({ sub: 'x' }).setProtectedHeader({ alg: 'RS384' }).setIssuedAt().sign(privateKey)
  t.assert.deepStrictEqual(leaks(pkcs8), ['PEM private key'])
  t.assert.deepStrictEqual(leaks(JSON.stringify({ key: pkcs1 })), ['PEM private key'])
  t.assert.ok(leaks(`assertion ${jwt}`).includes('JWT'))
  t.assert.ok(leaks(`authorization: Bearer ${'a1B2c3D4e5F6g7H8'}`).includes('bearer credential'))
  t.assert.ok(leaks(`client_assertion_type=x&client_assertion=${jwt}`).includes('client assertion'))
  t.assert.deepStrictEqual(leaks('{"client_secret": "hunter2hunter2"}'), ['client secret field'])
  t.assert.deepStrictEqual(leaks('{"access_token":"opaque-token-1234"}'), ['access token field'])
})

test('what tollgate writes instead passes the scan: redacted values and test names', (t: TestContext) => {
  const censor = createCensor(['hunter2hunter2'])
  t.assert.ok(censor !== undefined)
  t.assert.deepStrictEqual(leaks(censor('{"client_secret":"hunter2hunter2"}')), [])
  t.assert.deepStrictEqual(leaks('{"access_token":"[redacted]"}'), [])
  t.assert.deepStrictEqual(leaks("ok 4 - the app's Authorization is dropped: static_bearer sends Bearer <token>"), [])
})
