/**
 * The `proxy` and `tls` keys at config time: every PEM is parsed before
 * listening, problems name the field and never echo the value, and a proxy
 * password joins the secrets the logger censors.
 */
import { generateKeyPairSync } from 'node:crypto'
import { after, test, type TestContext } from 'node:test'
import { formatIssues } from '../../src/config/issues.js'
import { resolveConfig } from '../../src/config/load.js'
import { createPki } from '../helpers/pki.js'

const pki = createPki()
after(() => pki.remove())

const TARGET = 'https://vendor.example'
const GARBAGE = 'Zq7-not-a-pem-but-a-s3cr3t'

function problems (tls: Record<string, unknown>): string[] {
  const result = resolveConfig({ upstreams: { v: { target: TARGET, tls } } }, { env: {} })
  return formatIssues(result.issues ?? []).split('\n').filter((line) => line !== '')
}

test('ca, cert and key must be PEM; the problem names the field and never the value', (t: TestContext) => {
  t.plan(4)
  const lines = problems({ ca: GARBAGE, cert: GARBAGE, key: `-----BEGIN PRIVATE KEY-----\n${GARBAGE}\n-----END PRIVATE KEY-----` })
  t.assert.ok(lines.includes('upstreams.v.tls.ca: not a PEM certificate'), lines.join('\n'))
  t.assert.ok(lines.includes('upstreams.v.tls.cert: not a PEM certificate'), lines.join('\n'))
  t.assert.ok(lines.includes('upstreams.v.tls.key: not a PEM private key'), lines.join('\n'))
  t.assert.ok(lines.every((line) => !line.includes(GARBAGE)))
})

test('a CA bundle with one broken certificate is refused', (t: TestContext) => {
  t.plan(1)
  const broken = pki.ca.replace(/\n[A-Za-z0-9+/]{10}/, '\nAAAAAAAAAA')
  t.assert.deepStrictEqual(problems({ ca: `${pki.otherCa}${broken}` }), ['upstreams.v.tls.ca: not a PEM certificate'])
})

test('the key must belong to the certificate, and must not be encrypted', (t: TestContext) => {
  t.plan(2)
  t.assert.deepStrictEqual(problems({ cert: pki.clientCert, key: pki.serverKey }), ['upstreams.v.tls.key: does not belong to tls.cert'])
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256', privateKeyEncoding: { type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'pass' }, publicKeyEncoding: { type: 'spki', format: 'pem' } })
  t.assert.deepStrictEqual(problems({ cert: pki.clientCert, key: privateKey }), ['upstreams.v.tls.key: is an encrypted PEM key: give tollgate the key without a passphrase'])
})

test('a valid tls block resolves; the key is a secret; insecureSkipVerify takes a boolean or "true"/"false"', (t: TestContext) => {
  t.plan(5)
  const result = resolveConfig({ upstreams: { v: { target: TARGET, tls: { ca: `${pki.ca}\n${pki.otherCa}`, cert: pki.clientCert, key: pki.clientKey, minVersion: 'TLSv1.3', insecureSkipVerify: 'false' } } } }, { env: {} })
  t.assert.strictEqual(result.issues, undefined)
  t.assert.deepStrictEqual(Object.keys(result.config?.upstreams[0]?.tls ?? {}).sort(), ['ca', 'cert', 'key', 'minVersion'])
  t.assert.ok(result.config?.secrets.includes(pki.clientKey))
  t.assert.deepStrictEqual(problems({ insecureSkipVerify: 'yes' }), ['upstreams.v.tls.insecureSkipVerify: has the wrong type'])
  t.assert.strictEqual(resolveConfig({ upstreams: { v: { target: TARGET, tls: { insecureSkipVerify: true } } } }, { env: {} }).config?.upstreams[0]?.tls?.insecureSkipVerify, true)
})

test('a proxy URL may carry credentials; its password, raw, decoded and as Basic, joins the secrets', (t: TestContext) => {
  t.plan(3)
  const result = resolveConfig({ upstreams: { v: { target: TARGET, proxy: 'http://svc:p%40ss%3Aw0rd@proxy.corp:3128' } } }, { env: {} })
  t.assert.strictEqual(result.config?.upstreams[0]?.proxy, 'http://svc:p%40ss%3Aw0rd@proxy.corp:3128')
  const secrets = result.config?.secrets ?? []
  t.assert.deepStrictEqual(['p%40ss%3Aw0rd', 'p@ss:w0rd', Buffer.from('svc:p@ss:w0rd').toString('base64')].filter((s) => !secrets.includes(s)), [])
  const bad = resolveConfig({ upstreams: { v: { target: TARGET, proxy: `http://svc:${GARBAGE}@proxy.corp:3128/path` } } }, { env: {} })
  t.assert.deepStrictEqual(formatIssues(bad.issues ?? []), 'upstreams.v.proxy: must be an http(s) proxy URL: scheme, host, port and optionally user:password@, nothing else')
})
