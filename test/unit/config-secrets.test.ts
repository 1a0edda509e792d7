/* eslint-disable no-template-curly-in-string -- ${VAR} and ${file:} are the config syntax under test */
import { test, type TestContext } from 'node:test'
import { formatIssues } from '../../src/config/issues.js'
import { loadConfigFile, resolveConfig } from '../../src/config/load.js'
import { fixtureDir } from '../helpers/fixtures.js'

const SECRET = 'Zq7-s3cr3t-Vx9wK2mP'
const env = { HALAXY_CLIENT_SECRET: SECRET }
const S = '${HALAXY_CLIENT_SECRET}'
const TARGET = 'http://127.0.0.1:9'

/**
 * The secret lands in the wrong field (a swapped variable name, a shifted
 * line), in every way the validator might complain about it. Shape checks
 * and cross-field checks run in different passes, so each gets its own config.
 */
const CONFIGS: Record<string, unknown> = {
  'shape problems': {
    server: { port: S, shutdownGrace: S, bodyLimit: S, headersTimeout: S, bodyTimeout: S, allow: S, inboundToken: S, adminPort: S },
    log: { level: S },
    store: { type: S, url: S, encryptionKey: S, onUnavailable: S },
    upstreams: {
      a: { target: S, timeout: S, bodyLimit: S, proxy: S, headers: { 'x-a': [S] }, retry: { methods: [S], on429: S }, rateLimit: { requests: S, window: S, maxWait: S } },
      b: { target: `http://${S}@example.com/`, auth: { type: S } },
      c: { target: TARGET, preset: S },
      d: { target: TARGET, tls: { minVersion: S } },
      e: { target: TARGET, auth: { type: 'oauth2_client_credentials', tokenUrl: S, clientId: 'x', clientSecret: 'y', clientAuth: S, bodyEncoding: S, signingAlg: S, maxTokenTtl: S, refreshBefore: S } },
      f: { target: `${TARGET}/?k=${S}` }
    }
  },
  'store: shape problems': {
    store: { type: 'redis', sentinels: [S, `${S}:26379`], name: 'mymaster', username: [S], password: [S], sentinelPassword: [S], tls: { minVersion: S }, keyPrefix: [S] },
    upstreams: { a: { target: TARGET } }
  },
  'store: cross-field problems': {
    store: { type: 'redis', url: `rediss://:${S}@127.0.0.1:6380`, password: S, cluster: [S, `redis://u:${S}@127.0.0.1:7000`, `rediss://127.0.0.1:${S}`], tls: { ca: S, cert: S }, redis: { password: S, tls: S } },
    upstreams: { a: { target: TARGET } }
  },
  'cross-field problems: host': {
    server: { host: S },
    upstreams: { a: { target: TARGET } }
  },
  'cross-field problems: allow': {
    server: { host: '0.0.0.0', allow: [S, `10.0.0.0/${S}`] },
    upstreams: { a: { target: TARGET } }
  },
  'cross-field problems: prefixes': {
    upstreams: {
      a: { target: TARGET, prefix: `/${S}` },
      b: { target: TARGET, prefix: `/${S}/` },
      c: { target: TARGET, prefix: `/metrics/${S}` },
      d: { target: TARGET, prefix: `${S}` }
    }
  },
  'cross-field problems: auth': {
    upstreams: {
      a: { target: TARGET, auth: { type: 'none', token: S, clientSecret: S } },
      b: { target: TARGET, auth: { type: 'oauth2_client_credentials', tokenUrl: `${TARGET}/t`, clientId: S, clientAuth: 'private_key_jwt', privateKey: S, clientSecret: S } },
      c: { target: TARGET, auth: { type: 'oauth2_client_credentials', tokenUrl: `${TARGET}/t`, clientId: 'x', clientAuth: 'private_key_jwt', privateKey: `-----BEGIN PRIVATE KEY-----\n${S}\n-----END PRIVATE KEY-----` } },
      d: { target: TARGET, headers: { 'x-key': `${S}\r\n`, Authorization: S }, auth: { type: 'static_bearer', token: S } },
      e: { target: TARGET, tls: { cert: S } }
    }
  },
  'unresolved references next to the secret': {
    upstreams: { a: { target: TARGET, headers: { 'x-a': `${S}\${MISSING}`, 'x-b': `\${${S}}`, 'x-c': `\${file:${S}}` } } }
  },
  'broken references next to the secret (issue 15)': {
    upstreams: {
      a: { target: TARGET, headers: { 'x-a': `${S}\${`, 'x-b': `${S}\${API_TOKEN`, 'x-c': '${HALAXY_CLIENT_SECRET:x}', 'x-d': `${S}\${env:X}`, 'x-e': `${S} \${9}` } },
      // The secret's variable in scalar fields: named, its value never quoted.
      b: { target: TARGET, timeout: S, rateLimit: { requests: S, window: S }, retry: { on429: S } },
      c: { target: TARGET, auth: { type: 'oauth2_client_credentials', tokenUrl: `${TARGET}/t`, clientId: 'x', clientAuth: 'private_key_jwt', privateKey: `-----BEGIN PUBLIC KEY-----\n${S}\n-----END PUBLIC KEY-----` } }
    }
  }
}

test('a secret read through interpolation never appears in any config problem', (t: TestContext) => {
  const names = Object.keys(CONFIGS)
  t.plan(names.length + 1)
  const leaks: string[] = []
  for (const name of names) {
    const result = resolveConfig(CONFIGS[name], { env })
    t.assert.ok((result.issues?.length ?? 0) > 0, `${name}: the config is invalid`)
    for (const line of formatIssues(result.issues ?? []).split('\n')) if (line.includes(SECRET)) leaks.push(`${name} → ${line}`)
  }
  t.assert.deepStrictEqual(leaks, [], 'these problem lines echo the secret')
})

test('nor does a secret read with ${file:}', (t: TestContext) => {
  t.plan(2)
  const dir = fixtureDir(t)
  dir.write('secret.txt', `${SECRET}\n`)
  const file = dir.write('tollgate.yaml', [
    'server:',
    '  host: ${file:secret.txt}',
    'upstreams:',
    '  halaxy:',
    '    prefix: /${file:secret.txt}',
    '    target: http://127.0.0.1:9',
    '  photon:',
    '    prefix: /${file:secret.txt}',
    '    target: http://127.0.0.1:9',
    ''
  ].join('\n'))
  const result = loadConfigFile(file, {})
  t.assert.ok((result.issues?.length ?? 0) > 0)
  t.assert.deepStrictEqual(formatIssues(result.issues ?? []).split('\n').filter((line) => line.includes(SECRET)), [])
})
