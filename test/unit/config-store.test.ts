/**
 * `store` for Redis as it runs in production (issue 17): one way to reach it
 * (url, sentinels or cluster), raw credentials, TLS checked like an
 * upstream's, and no setting given twice (tollgate's key and the ioredis
 * pass-through).
 */
import { test, type TestContext } from 'node:test'
import { printableConfig } from '../../src/cli/effective-config.js'
import { formatIssues } from '../../src/config/issues.js'
import { resolveConfig } from '../../src/config/load.js'
import { createPki } from '../helpers/pki.js'

const TARGET = 'http://127.0.0.1:9'

function problems (store: Record<string, unknown>): string[] {
  const result = resolveConfig({ store: { type: 'redis', ...store }, upstreams: { vendor: { target: TARGET } } }, { env: {} })
  return result.issues === undefined ? [] : formatIssues(result.issues).split('\n')
}

const ONE_OF = 'give exactly one of store.url, store.sentinels, store.cluster'

test('exactly one of store.url, store.sentinels and store.cluster; the error names those given', (t: TestContext) => {
  t.plan(4)
  t.assert.deepStrictEqual(problems({}), ['store.url: required when store.type is redis (or store.sentinels with store.name, or store.cluster)'])
  t.assert.deepStrictEqual(problems({ url: 'redis://127.0.0.1:6379', sentinels: ['127.0.0.1:26379'], name: 'mymaster' }), [`store.sentinels: set together with store.url: ${ONE_OF}`])
  t.assert.deepStrictEqual(problems({ sentinels: ['127.0.0.1:26379'], name: 'mymaster', cluster: ['redis://127.0.0.1:7000'] }), [`store.cluster: set together with store.sentinels: ${ONE_OF}`])
  t.assert.deepStrictEqual(problems({ url: 'redis://127.0.0.1:6379', sentinels: ['127.0.0.1:26379'], name: 'mymaster', cluster: ['redis://127.0.0.1:7000'] }), [`store.cluster: set together with store.url and store.sentinels: ${ONE_OF}`])
})

test('a setting given as tollgate\'s key and under store.redis is an error naming both', (t: TestContext) => {
  t.plan(3)
  const pki = createPki()
  t.after(() => pki.remove())
  t.assert.deepStrictEqual(problems({
    sentinels: ['127.0.0.1:26379'],
    name: 'mymaster',
    username: 'tollgate',
    password: 'store-password-1',
    sentinelPassword: 'sentinel-password-1',
    tls: { ca: pki.ca },
    redis: { username: 'u', password: 'p', name: 'other', sentinelPassword: 's', tls: { ca: pki.ca }, sentinelTLS: {}, connectTimeout: 5000 }
  }).sort(), [
    'store.redis.name: also set by store.name: give it in one place (store.name)',
    'store.redis.password: also set by store.password: give it in one place (store.password)',
    'store.redis.sentinelPassword: also set by store.sentinelPassword: give it in one place (store.sentinelPassword)',
    'store.redis.sentinelTLS: also set by store.tls: give it in one place (store.tls)',
    'store.redis.tls: also set by store.tls: give it in one place (store.tls)',
    'store.redis.username: also set by store.username: give it in one place (store.username)'
  ])
  // The URL's credentials are first-class too.
  t.assert.deepStrictEqual(problems({ url: 'redis://user:url-password@127.0.0.1:6379', username: 'user', password: 'raw-password', redis: { password: 'p' } }).sort(), [
    'store.password: also given in store.url: give it in one place (store.password is taken as it is, with no URL encoding)',
    'store.redis.password: also set by store.password: give it in one place (store.password)',
    'store.username: also given in store.url: give it in one place'
  ])
  // Sentinel mode is tollgate's to set up now: the pass-through way is refused with the way to say it.
  t.assert.deepStrictEqual(problems({ url: 'redis://127.0.0.1:6379', redis: { sentinels: [{ host: '127.0.0.1', port: 26379 }], name: 'mymaster' } }), [
    'store.redis.sentinels: is not passed to ioredis: use store.sentinels (a list of host:port) and store.name'
  ])
})

test('Sentinel: host:port entries, a name, and sentinel credentials only with sentinels', (t: TestContext) => {
  t.plan(4)
  t.assert.deepStrictEqual(problems({ sentinels: ['sentinel-0.redis:26379', '[::1]:26379', '10.0.0.6:26379'], name: 'mymaster', sentinelUsername: 'watcher', sentinelPassword: 'sentinel-password-2' }), [])
  t.assert.deepStrictEqual(problems({ sentinels: ['127.0.0.1:26379'] }), ['store.name: required with store.sentinels: the name the sentinels monitor the primary under (sentinel monitor <name> ...), e.g. mymaster'])
  t.assert.deepStrictEqual(problems({ sentinels: ['sentinel-0.redis', 'redis://10.0.0.6:26379', '10.0.0.6:26379/0'], name: 'mymaster' }), [0, 1, 2].map((i) => `store.sentinels[${i}]: must be host:port, e.g. sentinel-0.redis:26379 ([::1]:26379 for IPv6)`))
  t.assert.deepStrictEqual(problems({ url: 'redis://127.0.0.1:6379', name: 'mymaster', sentinelUsername: 'u', sentinelPassword: 'p' }), [
    'store.name: only used with store.sentinels',
    'store.sentinelUsername: only used with store.sentinels',
    'store.sentinelPassword: only used with store.sentinels'
  ])
})

test('Cluster: startup nodes are scheme, host and port, one scheme for all; no brace in keyPrefix', (t: TestContext) => {
  t.plan(3)
  t.assert.deepStrictEqual(problems({ cluster: ['redis://10.0.0.7:6379', 'redis://redis-1.internal:6379'] }), [])
  t.assert.deepStrictEqual(problems({ cluster: ['redis://10.0.0.7', 'redis://u:p@10.0.0.7:6379', 'redis://10.0.0.7:6379/1', '10.0.0.7:6379', 'rediss://10.0.0.8:6379'] }), [
    ...[0, 1, 2, 3].map((i) => `store.cluster[${i}]: must be redis://host:port or rediss://host:port (credentials go in store.username and store.password)`)
  ])
  t.assert.deepStrictEqual(problems({ cluster: ['redis://10.0.0.7:6379', 'rediss://10.0.0.8:6379'], keyPrefix: '{app}:' }), [
    'store.keyPrefix: must not contain { or } with store.cluster: tollgate gives each upstream\'s keys the hash tag {<upstream>}, so that every script touches one slot',
    'store.cluster: mixes redis:// and rediss:// nodes: one scheme for all'
  ])
})

test('store.tls is checked like an upstream\'s, and needs a TLS scheme where there is one', (t: TestContext) => {
  t.plan(5)
  const pki = createPki()
  t.after(() => pki.remove())
  t.assert.deepStrictEqual(problems({ url: 'rediss://127.0.0.1:6380', tls: { ca: pki.ca, cert: pki.clientCert, key: pki.clientKey, minVersion: 'TLSv1.3' } }), [])
  t.assert.deepStrictEqual(problems({ url: 'rediss://127.0.0.1:6380', tls: { ca: 'not a pem', cert: pki.clientCert, key: pki.serverKey } }), [
    'store.tls.ca: not a PEM certificate',
    'store.tls.key: does not belong to tls.cert'
  ])
  t.assert.deepStrictEqual(problems({ url: 'redis://127.0.0.1:6379', tls: { ca: pki.ca } }), ['store.tls: needs a rediss:// URL (store.url is redis://, which does not use TLS)'])
  t.assert.deepStrictEqual(problems({ cluster: ['redis://127.0.0.1:7000'], tls: { ca: pki.ca } }), ['store.tls: needs rediss:// cluster nodes (store.cluster lists redis:// ones, which do not use TLS)'])
  // Sentinel has no scheme: store.tls is what turns TLS on, for the sentinels and the primaries alike.
  t.assert.deepStrictEqual(problems({ sentinels: ['127.0.0.1:26379'], name: 'mymaster', tls: { ca: pki.ca, insecureSkipVerify: true } }), ['store.tls.insecureSkipVerify: unknown key'])
})

test('username and passwords are raw values, censored from logs and from check --print', (t: TestContext) => {
  t.plan(4)
  const password = 'p@ss:w/rd%41 ?#'
  const result = resolveConfig({
    store: { type: 'redis', sentinels: ['127.0.0.1:26379'], name: 'mymaster', username: 'tollgate', password, sentinelUsername: 'watcher', sentinelPassword: 'sentinel-password-3' },
    upstreams: { vendor: { target: TARGET } }
  }, { env: {} })
  const store = result.config?.store
  t.assert.deepStrictEqual({ username: store?.username, password: store?.password }, { username: 'tollgate', password }, 'not URL-decoded or otherwise changed')
  t.assert.ok(result.config?.secrets.includes(password) === true && result.config.secrets.includes('sentinel-password-3'), 'both passwords join the log censor')
  const printed = JSON.stringify(printableConfig(result.config as NonNullable<typeof result.config>))
  t.assert.ok(!printed.includes(password) && !printed.includes('sentinel-password-3'), 'check --print shows a password')
  t.assert.match(printed, /"sentinels":\["127\.0\.0\.1:26379"\]/)
})
