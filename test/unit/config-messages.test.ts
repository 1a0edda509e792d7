/* eslint-disable no-template-curly-in-string -- ${VAR} is the config syntax under test */
/**
 * Issue 15: each config problem says what is wrong in the user's terms:
 * "required" for a missing key, the variable and the expected type for a bad
 * interpolated value, the valid form of a name, one issue for one mistake,
 * and a "did you mean" when a key or a preset is one typo away.
 */
import { generateKeyPairSync } from 'node:crypto'
import { test, type TestContext } from 'node:test'
import { formatIssues } from '../../src/config/issues.js'
import { resolveConfig } from '../../src/config/load.js'

const TARGET = 'http://127.0.0.1:9'
const PRESETS = 'halaxy | halaxy-eu | healthhero | redox | photon | photon-sandbox | nikohealth'

function lines (raw: unknown, env: NodeJS.ProcessEnv = {}): string[] {
  const result = resolveConfig(raw, { env })
  return formatIssues(result.issues ?? []).split('\n').filter((line) => line !== '').sort()
}

function jwt (privateKey: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { type: 'oauth2_client_credentials', tokenUrl: `${TARGET}/token`, clientId: 'client', clientAuth: 'private_key_jwt', privateKey, ...extra }
}

test('a missing required key says "required", not "wrong type"', (t: TestContext) => {
  t.plan(3)
  t.assert.deepStrictEqual(lines({ upstreams: { halaxy: { target: TARGET, rateLimit: { requests: 500 } } } }), ['upstreams.halaxy.rateLimit.window: required'])
  t.assert.deepStrictEqual(lines({ upstreams: { halaxy: { target: TARGET, rateLimit: { window: '1m' } } } }), ['upstreams.halaxy.rateLimit.requests: required'])
  t.assert.deepStrictEqual(lines({ upstreams: { halaxy: { target: TARGET, auth: { clientId: 'a' } } } }), ['upstreams.halaxy.auth.type: required (one of none | static_bearer | oauth2_client_credentials)'])
})

test('a bad value from ${VAR} names the variable and the expected type', (t: TestContext) => {
  t.plan(6)
  const upstreams = { a: { target: TARGET } }
  t.assert.deepStrictEqual(lines({ server: { port: '${PORT}' }, upstreams }, { PORT: 'abc' }), ['server.port: ${PORT} is "abc": expected a port number 0-65535'])
  t.assert.deepStrictEqual(lines({ server: { port: '${PORT}' }, upstreams }, { PORT: '70000' }), ['server.port: ${PORT} is "70000": expected a port number 0-65535'])
  t.assert.deepStrictEqual(lines({ server: { port: 'abc' }, upstreams }), ['server.port: must be a port number 0-65535'])
  t.assert.deepStrictEqual(lines({ upstreams: { a: { target: TARGET, rateLimit: { requests: '${REQUESTS}', window: '${WINDOW}' } } } }, { REQUESTS: 'lots', WINDOW: 'soon' }), [
    'upstreams.a.rateLimit.requests: ${REQUESTS} is "lots": expected a whole number',
    'upstreams.a.rateLimit.window: ${WINDOW} is "soon": expected a duration: seconds, or a number with ms, s, m or h (250ms, 30s, 15m, 1h)'
  ])
  // A variable named like a secret, in the wrong field: named, its value never shown.
  t.assert.deepStrictEqual(lines({ server: { port: '${HALAXY_CLIENT_SECRET}' }, upstreams }, { HALAXY_CLIENT_SECRET: 'Zq7s3cr3t' }), ['server.port: ${HALAXY_CLIENT_SECRET} (value not shown): expected a port number 0-65535'])
  // Nor is a value that does not look like a plain scalar (a URL may hold a password).
  t.assert.deepStrictEqual(lines({ server: { port: '${PORT}' }, upstreams }, { PORT: 'http://u:p@h' }), ['server.port: ${PORT} (value not shown): expected a port number 0-65535'])
})

test('a bad upstream or header name says what a valid name is', (t: TestContext) => {
  t.plan(1)
  t.assert.deepStrictEqual(lines({ upstreams: { 'halaxy au': { target: TARGET }, ok: { target: TARGET, headers: { 'User Agent': 'x' } } } }), [
    'upstreams.halaxy au: is not a valid upstream name: letters, digits, _ . and -, starting with a letter or digit',
    'upstreams.ok.headers.User Agent: is not a valid header name: letters, digits and !#$%&\'*+-.^_`|~ only (no spaces or colons)'
  ])
})

test('an unknown preset is the one issue, with "did you mean" when one is close', (t: TestContext) => {
  t.plan(3)
  const auth = { clientId: 'a', clientSecret: 'b' }
  t.assert.deepStrictEqual(lines({ upstreams: { halaxy: { preset: 'halaxi', auth } } }), [`upstreams.halaxy.preset: unknown preset; did you mean halaxy? (presets: ${PRESETS})`])
  t.assert.deepStrictEqual(lines({ upstreams: { v: { preset: 'acme', auth } } }), [`upstreams.v.preset: unknown preset: must be one of ${PRESETS}`])
  // Explicit OAuth2 keys that the preset would have made right are not echoed either.
  t.assert.deepStrictEqual(lines({ upstreams: { redox: { preset: 'redoks', auth: { type: 'oauth2_client_credentials', clientId: 'a', keyId: 'k', privateKey: 'x' } } } }), [`upstreams.redox.preset: unknown preset; did you mean redox? (presets: ${PRESETS})`])
})

test('a preset with auth.type static_bearer or none is one conflict, not an issue per key the preset filled', (t: TestContext) => {
  t.plan(2)
  const headers = { 'User-Agent': 'Acme Clinic Sync (dev@acme.example)' }
  t.assert.deepStrictEqual(lines({ upstreams: { halaxy: { preset: 'halaxy', headers, auth: { type: 'static_bearer', token: 'tok' } } } }), [
    'upstreams.halaxy.auth.type: static_bearer does not go with preset halaxy, which signs in with oauth2_client_credentials: remove auth.type to use the preset, or remove preset and set target'
  ])
  t.assert.deepStrictEqual(lines({ upstreams: { photon: { preset: 'photon', auth: { type: 'none' } } } }), [
    'upstreams.photon.auth.type: none does not go with preset photon, which signs in with oauth2_client_credentials: remove auth.type to use the preset, or remove preset and set target'
  ])
})

test('private keys: too short, encrypted or public are each said plainly', (t: TestContext) => {
  t.plan(5)
  const short = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
  t.assert.deepStrictEqual(lines({ upstreams: { redox: { target: TARGET, auth: jwt(short) } } }), ['upstreams.redox.auth.privateKey: is too short: RS384 needs an RSA key of at least 2048 bits (this one has 1024)'])
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const encryptedMessage = 'upstreams.redox.auth.privateKey: is encrypted: tollgate needs an unencrypted PKCS#8 or PKCS#1 key (openssl pkey -in k.pem -out plain.pem)'
  const pkcs8 = privateKey.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'pw' }).toString()
  t.assert.deepStrictEqual(lines({ upstreams: { redox: { target: TARGET, auth: jwt(pkcs8) } } }), [encryptedMessage])
  const pkcs1 = privateKey.export({ type: 'pkcs1', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'pw' }).toString()
  t.assert.deepStrictEqual(lines({ upstreams: { redox: { target: TARGET, auth: jwt(pkcs1) } } }), [encryptedMessage])
  for (const type of ['spki', 'pkcs1'] as const) {
    const pem = publicKey.export({ type, format: 'pem' }).toString()
    t.assert.deepStrictEqual(lines({ upstreams: { redox: { target: TARGET, auth: jwt(pem) } } }), ['upstreams.redox.auth.privateKey: is a public key; privateKey needs the private key'], type)
  }
})

test('an unknown key gets "did you mean" when a valid key at that place is close', (t: TestContext) => {
  t.plan(1)
  t.assert.deepStrictEqual(lines({
    servr: {},
    bogus: 1,
    server: { hots: '127.0.0.1' },
    upstreams: { halaxy: { target: TARGET, tiemout: '1s', auth: { type: 'none', clientsecret: 'x' }, rateLimit: { requests: 1, windw: '1s', burst: 2 }, tls: { CA: 'x' } } }
  }), [
    'bogus: unknown key',
    'server.hots: unknown key; did you mean host?',
    'servr: unknown key; did you mean server?',
    'upstreams.halaxy.auth.clientsecret: unknown key; did you mean clientSecret?',
    'upstreams.halaxy.rateLimit.burst: unknown key',
    'upstreams.halaxy.rateLimit.window: required',
    'upstreams.halaxy.rateLimit.windw: unknown key; did you mean window?',
    'upstreams.halaxy.tiemout: unknown key; did you mean timeout?',
    'upstreams.halaxy.tls.CA: unknown key; did you mean ca?'
  ])
})

test('the redox preset requires auth.keyId, and says how to get one', (t: TestContext) => {
  t.plan(3)
  const pem = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
  t.assert.deepStrictEqual(lines({ upstreams: { redox: { preset: 'redox', auth: { clientId: 'c', privateKey: pem } } } }), [
    'upstreams.redox.auth.keyId: required by preset redox: the kid of the public key registered with Redox (tollgate keygen --kid ID makes a key pair and prints its JWKS; register the JWKS with Redox, and set keyId to the same ID)'
  ])
  t.assert.deepStrictEqual(lines({ upstreams: { redox: { preset: 'redox', auth: { clientId: 'c', privateKey: pem, keyId: 'acme-1' } } } }), [])
  // A missing variable is the one issue for the field, not also "required by preset".
  t.assert.deepStrictEqual(lines({ upstreams: { redox: { preset: 'redox', auth: { clientId: 'c', privateKey: pem, keyId: '${REDOX_KEY_ID}' } } } }), ['upstreams.redox.auth.keyId: environment variable REDOX_KEY_ID is not set'])
})
