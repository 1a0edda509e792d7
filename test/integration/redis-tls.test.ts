/**
 * store.tls (issue 17 part 1): tollgate reaches a TLS-only redis-server
 * (`--port 0 --tls-port`) through `rediss://` with a CA and a client
 * certificate the test made; replicas share the window over it. A CA that
 * did not sign Redis's certificate is a startup failure naming store.tls.ca
 * under `onUnavailable: fail`, and a logged fallback under `local`.
 */
import { test, type TestContext } from 'node:test'
import { Agent } from 'undici'
import { formatIssues } from '../../src/config/issues.js'
import { resolveConfig } from '../../src/config/load.js'
import { buildServer } from '../../src/server.js'
import { startOrigin } from '../helpers/origin.js'
import { createPki, type Pki } from '../helpers/pki.js'
import { waitFor, windowUnits } from '../helpers/redis-server.js'
import { startTlsRedis } from '../helpers/redis-topology.js'
import { startSidecar } from '../helpers/sidecar.js'

function pki (t: TestContext): Pki {
  const made = createPki()
  t.after(() => made.remove())
  return made
}

async function get (url: string, dispatcher: Agent): Promise<{ status: number, code?: string }> {
  const res = await fetch(url, { dispatcher } as RequestInit)
  const body = await res.text()
  return res.status === 200 ? { status: 200 } : { status: res.status, code: (JSON.parse(body) as { code: string }).code }
}

test('rediss:// with store.tls (CA, client certificate, TLSv1.3): two replicas share one window over TLS', async (t: TestContext) => {
  const keys = pki(t)
  const redis = await startTlsRedis(t, keys, { clientCertificates: true })
  if (redis === undefined) return
  const origin = await startOrigin(t)
  const store = { type: 'redis', url: redis.url, keyPrefix: 'tls-test:', onUnavailable: 'fail', tls: { ca: keys.ca, cert: keys.clientCert, key: keys.clientKey, minVersion: 'TLSv1.3' } }
  const fleet = await Promise.all([0, 1].map(() => startSidecar(t, {
    store,
    upstreams: { vendor: { target: origin.url, rateLimit: { requests: 4, window: '30s', maxWait: '200ms' } } }
  })))
  const client = new Agent({ connections: 8 })
  t.after(() => client.close())

  const answers = []
  for (let i = 0; i < 6; i++) answers.push(await get(`${fleet[i % 2]?.url}/vendor/r/${i}`, client))

  // Four starts fit the shared window, whichever replica made them; then both replicas are full.
  t.assert.deepStrictEqual(answers.map((a) => a.status), [200, 200, 200, 200, 503, 503])
  t.assert.strictEqual(origin.requests.length, 4)
  await waitFor('the four starts in Redis', async () => await windowUnits(redis.client, 'tls-test:', 'vendor', 'starts') === 4, 2000)
  for (const sidecar of fleet) {
    t.assert.strictEqual(sidecar.sidecar.store.status().available, true)
    t.assert.match(sidecar.logs.text(), /"redis":"rediss:\/\/127\.0\.0\.1:\d+".*shared store connected/)
  }
})

test('a CA that did not sign Redis\'s certificate: fail stops startup naming store.tls.ca; local starts alone and logs why', async (t: TestContext) => {
  const keys = pki(t)
  const redis = await startTlsRedis(t, keys)
  if (redis === undefined) return
  // fallbackReplicas: a replica that never reached the store starts nothing rate-limited without it (issue 17 part 4).
  const wrongCa = { type: 'redis', url: redis.url, keyPrefix: 'tls-wrong-ca:', tls: { ca: keys.otherCa }, fallbackReplicas: 1 }

  const failing = resolveConfig({ log: { level: 'silent' }, store: { ...wrongCa, onUnavailable: 'fail' }, upstreams: { vendor: { target: 'http://127.0.0.1:9' } } }, { env: {} })
  if (failing.issues !== undefined) throw new Error(formatIssues(failing.issues))
  await t.assert.rejects(buildServer(failing.config), (err: Error & { code?: string }) => {
    t.assert.strictEqual(err.code, 'TG_STORE_UNAVAILABLE')
    t.assert.match(err.message, new RegExp(`cannot reach Redis at rediss://127\\.0\\.0\\.1:${redis.port} \\(store\\.tls\\.ca: Redis's certificate is not signed by a CA tollgate trusts \\([^)]+\\)\\) and store\\.onUnavailable is fail; fix store\\.tls\\.ca or set store\\.onUnavailable: local$`))
    return true
  })

  const origin = await startOrigin(t)
  const local = await startSidecar(t, { store: wrongCa, upstreams: { vendor: { target: origin.url, rateLimit: { requests: 10, window: '30s' } } } })
  const warning = local.logs.entries().find((entry) => String(entry.msg).startsWith('SHARED STORE UNAVAILABLE AT STARTUP'))
  t.assert.strictEqual(warning?.level, 40)
  t.assert.match(String(warning?.reason), /^store\.tls\.ca: Redis's certificate is not signed by a CA tollgate trusts/)
  t.assert.strictEqual(local.sidecar.store.status().available, false)
  const res = await fetch(`${local.url}/vendor/alone`)
  await res.arrayBuffer()
  t.assert.strictEqual(res.status, 200, 'local answers on per-process state')
})

test('Redis asks for a client certificate and store.tls has none: the startup error says which keys to set', async (t: TestContext) => {
  const keys = pki(t)
  const redis = await startTlsRedis(t, keys, { clientCertificates: true })
  if (redis === undefined) return
  const result = resolveConfig({ log: { level: 'silent' }, store: { type: 'redis', url: redis.url, onUnavailable: 'fail', tls: { ca: keys.ca } }, upstreams: { vendor: { target: 'http://127.0.0.1:9' } } }, { env: {} })
  if (result.issues !== undefined) throw new Error(formatIssues(result.issues))
  await t.assert.rejects(buildServer(result.config), (err: Error & { code?: string }) => {
    t.assert.strictEqual(err.code, 'TG_STORE_UNAVAILABLE')
    // Node names the TLS alert when it reads it before the reset, and only the reset otherwise: both say which key.
    t.assert.match(err.message, /\((store\.tls\.cert: Redis asks for a client certificate \(|[^()]*; if Redis asks for client certificates \(tls-auth-clients yes\), set store\.tls\.cert and store\.tls\.key\))/)
    return true
  })
})
