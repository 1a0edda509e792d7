/**
 * store.username / store.password (issue 17 part 1): tollgate as an ACL user
 * with only the permissions docs/scaling.md lists (its key prefix, its
 * channel, the command categories its scripts use), the password given as
 * a raw value with characters a URL would have to encode. Every script runs
 * (window, pause, x-ratelimit learning, token claim, put, invalidation) and
 * Redis' ACL LOG stays empty. A refused password is a startup error naming
 * the fields, and the password appears in no error, log line or /status.
 */
import { test, type TestContext } from 'node:test'
import { Agent } from 'undici'
import { formatIssues } from '../../src/config/issues.js'
import { resolveConfig } from '../../src/config/load.js'
import { buildServer } from '../../src/server.js'
import { startOrigin } from '../helpers/origin.js'
import { waitFor, windowUnits } from '../helpers/redis-server.js'
import { startPasswordRedis } from '../helpers/redis-topology.js'
import { startSidecar } from '../helpers/sidecar.js'
import { startTokenEndpoint, tokenReply } from '../helpers/token-endpoint.js'

const ADMIN_PASSWORD = 'acl-admin-password-71'
/** Raw: as a secret file holds it. In a URL it would need %40, %3A, %2F, %25, %20, %23. */
const PASSWORD = 'p@ss:w/rd%41 #tollgate-acl-9c'
const CLIENT_SECRET = 'acl-test-client-secret-3d'

/** The rules docs/scaling.md gives, for `prefix`. */
function aclRules (prefix: string): string[] {
  return ['on', `>${PASSWORD}`, `~${prefix}*`, `&${prefix}events`, '+@read', '+@write', '+@scripting', '+publish', '+subscribe', '+ping', '+info', '+time']
}

test('an ACL user with the documented rules: shared window, pause, learning and token all work, and Redis denies nothing', async (t: TestContext) => {
  const redis = await startPasswordRedis(t, ADMIN_PASSWORD)
  if (redis === undefined) return
  await redis.client.call('ACL', 'SETUSER', 'tollgate', ...aclRules('acl-test:'))
  await redis.client.call('ACL', 'LOG', 'RESET')
  let issued = 0
  const tokenEndpoint = await startTokenEndpoint(t, () => tokenReply(`acl-token-${++issued}`, 3600))
  let refused401 = false
  let refused429 = false
  const origin = await startOrigin(t, (req, res) => {
    req.resume()
    // The first token is refused once after it served (an invalidation; on its first use it would be a failed credential),
    // one request meets a 429 (the shared pause), the first answer states a budget (learning).
    if (!refused401 && req.url === '/vendor-path/2') {
      refused401 = true
      res.writeHead(401).end()
    } else if (!refused429 && req.url === '/vendor-path/3') {
      refused429 = true
      res.writeHead(429, { 'retry-after': '0' }).end()
    } else {
      res.writeHead(200, req.url === '/vendor-path/0' ? { 'x-ratelimit-remaining': '95' } : {}).end('ok')
    }
  })
  const store = { type: 'redis', url: redis.url, username: 'tollgate', password: PASSWORD, keyPrefix: 'acl-test:', onUnavailable: 'fail' }
  const fleet = await Promise.all([0, 1].map(() => startSidecar(t, {
    store,
    upstreams: {
      vendor: {
        target: `${origin.url}/vendor-path`,
        auth: { type: 'oauth2_client_credentials', tokenUrl: tokenEndpoint.url, clientId: 'acl-client', clientSecret: CLIENT_SECRET },
        rateLimit: { requests: 100, window: '30s' }
      }
    }
  })))
  const client = new Agent({ connections: 8 })
  t.after(() => client.close())

  const statuses: number[] = []
  for (let i = 0; i < 6; i++) {
    const res = await fetch(`${fleet[i % 2]?.url}/vendor/${i}`, { dispatcher: client } as RequestInit)
    await res.arrayBuffer()
    statuses.push(res.status)
  }

  t.assert.deepStrictEqual(statuses, [200, 200, 200, 200, 200, 200])
  t.assert.ok(refused401 && refused429, 'the 401 and the 429 were both met')
  t.assert.strictEqual(tokenEndpoint.requests.length, 2, 'one token, invalidated once, one more for both replicas')
  // 8 starts (6, the 401's retry, the 429's retry), and 4 learned: after the first, the vendor said 95 of 100 were left.
  await waitFor('the shared window in Redis', async () => await windowUnits(redis.client, 'acl-test:', 'vendor', 'starts') === 12, 2000)
  t.assert.deepStrictEqual(await redis.client.call('ACL', 'LOG'), [], 'Redis denied tollgate a command, key or channel')
  const clients = await redis.client.call('CLIENT', 'LIST') as string
  t.assert.strictEqual(clients.split('\n').filter((line) => line.includes(' user=tollgate ')).length, 4, 'each replica: a command connection and a subscriber, as tollgate')
  for (const sidecar of fleet) t.assert.ok(!sidecar.logs.text().includes(PASSWORD) && !sidecar.logs.text().includes(CLIENT_SECRET), 'a password reached the log')
})

test('a password Redis refuses: fail stops startup naming the fields, local starts alone; the password is never shown', async (t: TestContext) => {
  const redis = await startPasswordRedis(t, ADMIN_PASSWORD)
  if (redis === undefined) return
  await redis.client.call('ACL', 'SETUSER', 'tollgate', ...aclRules('acl-wrong:'))
  const wrong = `${PASSWORD}-not-this-one`
  // fallbackReplicas: a replica that never reached the store starts nothing rate-limited without it (issue 17 part 4).
  const store = { type: 'redis', url: redis.url, username: 'tollgate', password: wrong, keyPrefix: 'acl-wrong:', fallbackReplicas: 1 }

  const failing = resolveConfig({ log: { level: 'silent' }, store: { ...store, onUnavailable: 'fail' }, upstreams: { vendor: { target: 'http://127.0.0.1:9' } } }, { env: {} })
  if (failing.issues !== undefined) throw new Error(formatIssues(failing.issues))
  await t.assert.rejects(buildServer(failing.config), (err: Error & { code?: string }) => {
    t.assert.strictEqual(err.code, 'TG_STORE_UNAVAILABLE')
    t.assert.match(err.message, new RegExp(`cannot reach Redis at redis://127\\.0\\.0\\.1:${redis.port} \\(store\\.username / store\\.password: Redis refused them \\(WRONGPASS [^)]+\\)\\) and store\\.onUnavailable is fail; fix store\\.username / store\\.password or set store\\.onUnavailable: local$`))
    t.assert.ok(!`${err.message}\n${err.stack ?? ''}`.includes(wrong) && !err.message.includes(PASSWORD), 'the password is in the error')
    return true
  })

  const origin = await startOrigin(t)
  const local = await startSidecar(t, { store, upstreams: { vendor: { target: origin.url, rateLimit: { requests: 10, window: '30s' } } } })
  const warning = local.logs.entries().find((entry) => String(entry.msg).startsWith('SHARED STORE UNAVAILABLE AT STARTUP'))
  t.assert.match(String(warning?.reason), /^store\.username \/ store\.password: Redis refused them \(WRONGPASS/)
  const res = await fetch(`${local.url}/vendor/alone`)
  await res.arrayBuffer()
  t.assert.strictEqual(res.status, 200)
  t.assert.strictEqual(local.sidecar.store.status().available, false)
  const status = await (await fetch(`${local.url}/status`)).text()
  t.assert.ok(!status.includes(wrong) && !local.logs.text().includes(wrong), 'the password reached /status or the log')
})
