/* eslint-disable no-template-curly-in-string -- ${file:} is the config syntax under test */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { loadConfigFile } from '../../src/config/load.js'
import { startSecretRotation } from '../../src/ops/secret-rotation.js'
import { buildServer } from '../../src/server.js'
import { logSink } from '../helpers/log-sink.js'
import { startOrigin } from '../helpers/origin.js'
import { errorReply, startTokenEndpoint, tokenReply } from '../helpers/token-endpoint.js'

const OLD_SECRET = 'rotation-old-secret-111'
const NEW_SECRET = 'rotation-new-secret-222'

test('a rotated secret file is picked up without a restart: new token with the new secret, the old token never served again', async (t: TestContext) => {
  // The token server knows one secret at a time, as a vendor does after a rotation.
  let accepted = OLD_SECRET
  let issued = 0
  const tokenEndpoint = await startTokenEndpoint(t, (request) => {
    const secret = new URLSearchParams(request.body).get('client_secret')
    return secret === accepted ? tokenReply(`rotation-token-${++issued}`, 3600) : errorReply(401, 'invalid_client')
  })
  const seen: string[] = []
  const origin = await startOrigin(t, (req, res) => {
    seen.push(req.headers.authorization ?? '')
    req.resume()
    res.end('ok')
  })
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-rotation-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  writeFileSync(join(dir, 'client-secret'), `${OLD_SECRET}\n`)
  const configFile = join(dir, 'tollgate.yaml')
  writeFileSync(configFile, [
    'log: { level: trace }',
    'upstreams:',
    '  vendor:',
    `    target: ${origin.url}`,
    '    auth:',
    '      type: oauth2_client_credentials',
    `      tokenUrl: ${tokenEndpoint.url}`,
    '      clientId: rotation-client',
    '      clientSecret: ${file:client-secret}',
    ''
  ].join('\n'))

  const loaded = loadConfigFile(configFile)
  t.assert.ok(loaded.config !== undefined)
  t.assert.deepStrictEqual(loaded.files, [join(dir, 'client-secret')])
  const logs = logSink()
  const sidecar = await buildServer(loaded.config, { logStream: logs.stream })
  await sidecar.app.listen({ host: '127.0.0.1', port: 0 })
  t.after(() => sidecar.app.close())
  const url = `http://127.0.0.1:${(sidecar.app.server.address() as AddressInfo).port}`
  const rotation = startSecretRotation(sidecar, configFile, loaded.files, 50)
  t.after(() => rotation.stop())

  t.assert.strictEqual((await fetch(`${url}/vendor/a`)).status, 200)
  const before = sidecar.upstreams[0]?.credentials

  // Rotate: the vendor now only accepts the new secret; the mounted file changes.
  accepted = NEW_SECRET
  writeFileSync(join(dir, 'client-secret'), `${NEW_SECRET}\n`)
  const deadline = Date.now() + 3000
  while (sidecar.upstreams[0]?.credentials === before) {
    t.assert.ok(Date.now() < deadline, 'the rotation was not picked up within 3 s')
    await new Promise((resolve) => setTimeout(resolve, 20))
  }

  t.assert.strictEqual((await fetch(`${url}/vendor/b`)).status, 200)
  t.assert.deepStrictEqual(seen, ['Bearer rotation-token-1', 'Bearer rotation-token-2'], 'the request after the rotation carries a token fetched with the new secret')
  t.assert.strictEqual(tokenEndpoint.requests.length, 2)
  const text = logs.text()
  t.assert.match(text, /credentials rotated/)
  t.assert.ok(!text.includes(OLD_SECRET) && !text.includes(NEW_SECRET), 'a secret reached the log')
  t.assert.ok(!text.includes('rotation-token-'), 'a token reached the log')

  // A change that leaves the credentials as they are rotates nothing.
  const current = sidecar.upstreams[0]?.credentials
  t.assert.deepStrictEqual(sidecar.rotate(loadConfigFile(configFile).config ?? sidecar.config), { rotated: [], restartNeeded: [] })
  t.assert.strictEqual(sidecar.upstreams[0]?.credentials, current)
})
