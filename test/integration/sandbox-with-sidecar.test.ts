// End to end: the real sidecar, configured with nothing but each vendor's
// preset plus the sandbox's URLs and credentials, talks to the sandbox vendors
// in their own dialects. One token request serves many API calls.
import { PassThrough } from 'node:stream'
import type { AddressInfo } from 'node:net'
import { test, type TestContext } from 'node:test'
import { validateConfig } from '../../src/config/validate.js'
import { sandboxUpstreams } from '../../src/sandbox/sandbox-upstreams.js'
import { startSandbox } from '../../src/sandbox/server.js'
import { buildServer } from '../../src/server.js'

test('every preset, pointed at the sandbox, gets one token and reaches its vendor API', async (t: TestContext) => {
  const sandbox = await startSandbox()
  t.after(() => sandbox.close())

  const validated = validateConfig({ server: { port: 0 }, log: { level: 'trace' }, upstreams: sandboxUpstreams(sandbox) })
  t.assert.deepStrictEqual(validated.issues, undefined)
  if (validated.config === undefined) return

  const logs: string[] = []
  const logStream = new PassThrough().on('data', (chunk: Buffer) => logs.push(chunk.toString()))
  const sidecar = await buildServer(validated.config, { logStream })
  await sidecar.app.listen({ host: '127.0.0.1', port: 0 })
  t.after(() => sidecar.app.close())
  const base = `http://127.0.0.1:${(sidecar.app.server.address() as AddressInfo).port}`

  // The app's paths, as the vendors document them, below each upstream's prefix.
  const calls: Record<string, { method: string, path: string }> = {
    halaxy: { method: 'GET', path: '/halaxy/Patient' },
    'halaxy-eu': { method: 'GET', path: '/halaxy-eu/Patient' },
    healthhero: { method: 'GET', path: `/healthhero/api/v1/${sandbox.credentials.healthhero.clientId}/traversal` },
    redox: { method: 'POST', path: '/redox/fhir/R4/acme/Development/Patient/_search' },
    photon: { method: 'POST', path: '/photon/graphql' },
    'photon-sandbox': { method: 'POST', path: '/photon-sandbox/graphql' },
    nikohealth: { method: 'GET', path: '/nikohealth/external/v1/patients' }
  }
  for (const [vendor, call] of Object.entries(calls)) {
    for (let i = 0; i < 3; i++) {
      const res = await fetch(`${base}${call.path}`, { method: call.method, ...(call.method === 'POST' ? { headers: { 'content-type': 'application/json' }, body: '{}' } : {}) })
      t.assert.strictEqual(res.status, 200, `${vendor} ${call.method} ${call.path}: ${await res.text()}`)
    }
  }

  const stats = sandbox.stats()
  for (const vendor of Object.keys(calls) as Array<keyof typeof stats>) {
    t.assert.strictEqual(stats[vendor].tokenRequests, 1, `${vendor}: token requests`)
    t.assert.strictEqual(stats[vendor].resourceRequests, 3, `${vendor}: API requests`)
  }

  // The Halaxy preset's headers reached the vendor.
  const halaxy = await fetch(`${base}/halaxy/Patient`)
  t.assert.strictEqual(halaxy.headers.get('x-sandbox-accept'), 'application/fhir+json')
  t.assert.strictEqual(halaxy.headers.get('x-sandbox-user-agent'), 'tollgate demo (demo@tollgate.invalid)')
  t.assert.strictEqual(halaxy.headers.get('x-ratelimit-limit'), '500')
  await halaxy.arrayBuffer()

  const written = logs.join('')
  for (const secret of validated.config.secrets) t.assert.ok(!written.includes(secret), 'a secret reached the logs')
})
