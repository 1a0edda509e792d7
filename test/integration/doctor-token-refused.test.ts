// `tollgate doctor` when the token endpoint refuses the credentials: a wrong
// Halaxy secret, a Redox assertion signed under a kid the vendor does not
// know. The token step fails with the vendor's own error and says which keys
// to check; the clock is still read from the refusal's Date; the probe is
// skipped; nothing secret is printed (issue 15).
import { test, type TestContext } from 'node:test'
import { exportJWK, exportPKCS8, generateKeyPair } from 'jose'
import { sandboxUpstreams } from '../../src/sandbox/sandbox-upstreams.js'
import { startSandbox } from '../../src/sandbox/server.js'
import { assertNoLeaks, doctor, statuses, stepOf } from '../helpers/doctor.js'
import { errorReply, startTokenEndpoint } from '../helpers/token-endpoint.js'

test('halaxy with a wrong client secret: the token step fails with the vendor\'s invalid_client', async (t: TestContext) => {
  const vendors = await startSandbox()
  t.after(() => vendors.close())
  const wrongSecret = 'not-the-halaxy-secret-8f2a'
  const halaxy = sandboxUpstreams(vendors).halaxy as Record<string, unknown> & { auth: Record<string, unknown> }
  const report = await doctor({ upstreams: { halaxy: { ...halaxy, probe: '/Patient?_count=1', auth: { ...halaxy.auth, clientSecret: wrongSecret } } } })

  t.assert.deepStrictEqual(statuses(report, 'halaxy'), ['dns ok', 'tcp ok', 'token fail', 'clock ok', 'probe skip'])
  t.assert.strictEqual(report.failed, true)
  t.assert.match(stepOf(report, 'halaxy', 'token').detail, /^HTTP 401 invalid_client: unknown client or wrong client secret; check auth\.clientId and auth\.clientSecret$/)
  t.assert.strictEqual(stepOf(report, 'halaxy', 'probe').detail, 'no token')
  t.assert.match(report.lines.find((line) => line.includes(' token ')) ?? '', /^halaxy {2}token {2}FAIL {2}HTTP 401/)
  t.assert.strictEqual(report.lines.at(-1), '1 upstream: 3 ok, 1 failed, 1 skipped')
  assertNoLeaks(t, report.lines.join('\n'), [wrongSecret, vendors.credentials.halaxy.clientSecret])
})

test('redox with the wrong kid: the token step fails naming the kid the vendor does not know', async (t: TestContext) => {
  const { privateKey, publicKey } = await generateKeyPair('RS384', { extractable: true })
  const jwk = { ...await exportJWK(publicKey), kid: 'acme-key-1', alg: 'RS384' }
  const vendors = await startSandbox({ vendors: { redox: { clients: [{ clientId: 'acme-redox', publicKey: { keys: [jwk] } }] } } })
  t.after(() => vendors.close())
  const pem = await exportPKCS8(privateKey)
  const { target, tokenUrl } = vendors.endpoints.redox
  const auth = { tokenUrl, clientId: 'acme-redox', privateKey: pem, signingAlg: 'RS384' }

  const report = await doctor({
    upstreams: {
      wrongkid: { preset: 'redox', target, auth: { ...auth, keyId: 'acme-key-2' } },
      rightkid: { preset: 'redox', target, auth: { ...auth, keyId: 'acme-key-1' } }
    }
  })

  t.assert.deepStrictEqual(statuses(report, 'wrongkid'), ['dns ok', 'tcp ok', 'token fail', 'clock ok', 'probe skip'])
  t.assert.match(stepOf(report, 'wrongkid', 'token').detail, /^HTTP 401 invalid_client: no registered key for this client has kid "acme-key-2" and the assertion's alg; check auth\.clientId, auth\.keyId and auth\.privateKey/)
  // The same key under its registered kid passes: the kid was the whole problem.
  t.assert.strictEqual(stepOf(report, 'rightkid', 'token').status, 'ok')
  t.assert.match(stepOf(report, 'rightkid', 'token').detail, /^expires in 300 s/)
  t.assert.strictEqual(report.failed, true)
  // Neither the key nor a signed assertion reaches the output.
  assertNoLeaks(t, report.lines.join('\n'), [pem])
})

test('a token endpoint that echoes the secret in its error_description: the line holds no secret', async (t: TestContext) => {
  const secret = 'echoed-client-secret-4c1f'
  const tokens = await startTokenEndpoint(t, () => errorReply(400, 'invalid_request', `client_secret=${secret} is not accepted for client_id doctor-client (${secret})`))
  const report = await doctor({ upstreams: { echo: { target: tokens.origin, auth: { type: 'oauth2_client_credentials', tokenUrl: tokens.url, clientId: 'doctor-client', clientSecret: secret } } } })
  const token = stepOf(report, 'echo', 'token')
  t.assert.strictEqual(token.status, 'fail')
  t.assert.match(token.detail, /^HTTP 400 invalid_request: .*<redacted>.*; check auth\.clientAuth and auth\.bodyEncoding/)
  assertNoLeaks(t, report.lines.join('\n'), [secret])
})
