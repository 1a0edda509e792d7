/* eslint-disable no-template-curly-in-string -- ${file:} is the config syntax under test */
/**
 * A `${file:}` secret that changes is a reload like any other (issue 19
 * part 1): seen through its folder, no polling. The upstream whose secret
 * changed fetches a token with the new one and never serves the old token
 * again; across a reload that changes something else, the token stays; and
 * the next rotation still works.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { loadConfigFile } from '../../src/config/load.js'
import { startReloader } from '../../src/ops/reload.js'
import { buildServer } from '../../src/server.js'
import { eventually } from '../helpers/hostile.js'
import { fixtureDir } from '../helpers/fixtures.js'
import { logSink } from '../helpers/log-sink.js'
import { startOrigin } from '../helpers/origin.js'
import { errorReply, startTokenEndpoint, tokenReply } from '../helpers/token-endpoint.js'

const SECRETS = ['rotation-secret-one-111', 'rotation-secret-two-222', 'rotation-secret-three-333']

test('a rotated secret file reloads: a token fetched with the new secret, the old one never served; it keeps working across other reloads', { timeout: 30_000 }, async (t: TestContext) => {
  // The token server knows one secret at a time, as a vendor does after a rotation.
  let accepted = SECRETS[0]
  let issued = 0
  const endpoint = await startTokenEndpoint(t, (request) => {
    const secret = new URLSearchParams(request.body).get('client_secret')
    return secret === accepted ? tokenReply(`rotation-token-${++issued}`, 3600) : errorReply(401, 'invalid_client')
  })
  const seen: string[] = []
  const origin = await startOrigin(t, (req, res) => {
    seen.push(`${req.headers.authorization ?? ''} ${req.headers['x-extra'] ?? '-'}`)
    req.resume()
    res.end('ok')
  })
  const dir = fixtureDir(t)
  const secretFile = dir.write('client-secret', `${SECRETS[0]}\n`)
  const yaml = (extra: string): string => [
    'log: { level: trace }',
    'upstreams:',
    '  vendor:',
    `    target: ${origin.url}`,
    extra,
    '    auth:',
    '      type: oauth2_client_credentials',
    `      tokenUrl: ${endpoint.url}`,
    '      clientId: rotation-client',
    '      clientSecret: ${file:client-secret}',
    ''
  ].join('\n')
  const configFile = dir.write('tollgate.yaml', yaml(''))
  const loaded = loadConfigFile(configFile)
  if (loaded.issues !== undefined) throw new Error('fixture invalid')
  t.assert.deepStrictEqual(loaded.files, [join(dir.dir, 'client-secret')])
  const logs = logSink()
  const sidecar = await buildServer(loaded.config, { logStream: logs.stream, interpolated: loaded.interpolated })
  await sidecar.app.listen({ host: '127.0.0.1', port: 0 })
  t.after(() => sidecar.app.close())
  const url = `http://127.0.0.1:${(sidecar.app.server.address() as { port: number }).port}`
  const reloader = startReloader({ sidecar, file: configFile, fileConfig: loaded.config, files: loaded.files, flags: {}, env: {}, debounceMs: 50 })
  t.after(() => reloader.stop())
  const generation = async (n: number): Promise<void> => {
    t.assert.ok(await eventually(() => sidecar.configState.generation === n, 5000), `generation ${n} not reached within 5 s`)
  }

  t.assert.strictEqual((await fetch(`${url}/vendor/a`)).status, 200)

  // Rotate: the vendor now only accepts the new secret; the mounted file changes.
  accepted = SECRETS[1]
  writeFileSync(secretFile, `${SECRETS[1]}\n`)
  await generation(2)
  t.assert.strictEqual((await fetch(`${url}/vendor/b`)).status, 200)

  // Another setting changes: the token stays.
  writeFileSync(configFile, yaml('    headers: { X-Extra: "yes" }'))
  await generation(3)
  t.assert.strictEqual((await fetch(`${url}/vendor/c`)).status, 200)

  // And the next rotation still works.
  accepted = SECRETS[2]
  writeFileSync(secretFile, `${SECRETS[2]}\n`)
  await generation(4)
  t.assert.strictEqual((await fetch(`${url}/vendor/d`)).status, 200)

  t.assert.deepStrictEqual(seen, ['Bearer rotation-token-1 -', 'Bearer rotation-token-2 -', 'Bearer rotation-token-2 yes', 'Bearer rotation-token-3 yes'])
  t.assert.strictEqual(endpoint.requests.length, 3, 'one token per secret: none for the reload that changed a header')
  const reloads = logs.entries().filter((entry) => entry.msg === 'config reloaded')
  t.assert.deepStrictEqual(reloads.map((entry) => entry.reason), ['secret file changed', 'config file changed', 'secret file changed'])
  const text = logs.text()
  for (const secret of SECRETS) t.assert.ok(!text.includes(secret), 'a secret reached the log')
  t.assert.ok(!text.includes('rotation-token-'), 'a token reached the log')
})
