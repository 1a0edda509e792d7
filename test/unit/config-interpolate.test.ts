/* eslint-disable no-template-curly-in-string -- ${VAR} and ${file:} are the config syntax under test */
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { formatIssues } from '../../src/config/issues.js'
import { loadConfigFile, resolveConfig } from '../../src/config/load.js'
import type { UpstreamConfig } from '../../src/config/types.js'
import { fixtureDir } from '../helpers/fixtures.js'

function headersOf (raw: Record<string, unknown>, env: NodeJS.ProcessEnv, baseDir?: string): Readonly<Record<string, string>> {
  const result = resolveConfig({ upstreams: { a: { target: 'http://127.0.0.1:9', headers: raw } } }, { env, ...(baseDir === undefined ? {} : { baseDir }) })
  if (result.issues !== undefined) throw new Error(formatIssues(result.issues))
  return (result.config.upstreams[0] as UpstreamConfig).headers
}

test('${VAR} and ${VAR:-default} read the environment', (t: TestContext) => {
  t.plan(1)
  const headers = headersOf({
    'x-set': '${SET}',
    'x-inline': 'pre-${SET}-post',
    'x-default-unused': '${SET:-fallback}',
    'x-default-used': '${UNSET:-fallback}',
    'x-default-empty-var': '${EMPTY:-fallback}',
    'x-default-with-colon': '${UNSET:-http://a:b/c}',
    'x-two': '${SET}/${OTHER}'
  }, { SET: 'value', OTHER: 'other', EMPTY: '' })
  t.assert.deepStrictEqual({ ...headers }, {
    'x-set': 'value',
    'x-inline': 'pre-value-post',
    'x-default-unused': 'value',
    'x-default-used': 'fallback',
    'x-default-empty-var': 'fallback',
    'x-default-with-colon': 'http://a:b/c',
    'x-two': 'value/other'
  })
})

test('$${ is a literal ${, and an env value is not interpolated again', (t: TestContext) => {
  t.plan(1)
  const headers = headersOf({ 'x-literal': 'cost $${HOME} and $${file:x}', 'x-nested': '${TRICKY}' }, { HOME: '/root', TRICKY: '${HOME}' })
  t.assert.deepStrictEqual({ ...headers }, { 'x-literal': 'cost ${HOME} and ${file:x}', 'x-nested': '${HOME}' })
})

test('an unset variable without default is an issue at the field path, naming the variable', (t: TestContext) => {
  t.plan(2)
  const result = resolveConfig({ upstreams: { halaxy: { target: 'http://127.0.0.1:9', auth: { type: 'oauth2_client_credentials', tokenUrl: 'http://127.0.0.1:9/t', clientId: '${HALAXY_CLIENT_ID}', clientSecret: '${HALAXY_CLIENT_SECRET}' } } } }, { env: { HALAXY_CLIENT_ID: 'id' } })
  t.assert.deepStrictEqual(result.issues, [{ path: 'upstreams.halaxy.auth.clientSecret', message: 'environment variable HALAXY_CLIENT_SECRET is not set' }])
  t.assert.strictEqual(result.config, undefined)
})

test('${file:PATH} is relative to the config file folder, not the cwd, with the trailing newline trimmed', (t: TestContext) => {
  t.plan(3)
  const dir = fixtureDir(t)
  mkdirSync(join(dir.dir, 'keys'))
  dir.write('keys/token.txt', 'file-token-value\n')
  dir.write('keys/crlf.txt', 'crlf-value\r\n')
  const file = dir.write('tollgate.yaml', [
    'upstreams:',
    '  a:',
    '    target: http://127.0.0.1:9',
    '    headers:',
    '      x-crlf: ${file:keys/crlf.txt}',
    '    auth:',
    '      type: static_bearer',
    '      token: ${file:keys/token.txt}',
    ''
  ].join('\n'))
  t.assert.notStrictEqual(process.cwd(), dir.dir)
  const result = loadConfigFile(file, {})
  const upstream = result.config?.upstreams[0]
  t.assert.deepStrictEqual(upstream?.auth, { type: 'static_bearer', token: 'file-token-value' })
  t.assert.strictEqual(upstream?.headers['x-crlf'], 'crlf-value')
})

test('an unreadable ${file:} is an issue at the field path naming the file, missing or a directory', (t: TestContext) => {
  t.plan(2)
  const dir = fixtureDir(t)
  mkdirSync(join(dir.dir, 'keys'))
  const file = dir.write('tollgate.yaml', [
    'upstreams:',
    '  redox:',
    '    target: http://127.0.0.1:9',
    '    auth:',
    '      type: oauth2_client_credentials',
    '      tokenUrl: http://127.0.0.1:9/token',
    '      clientId: abc',
    '      clientAuth: private_key_jwt',
    '      privateKey: ${file:keys/missing.pem}',
    '  other:',
    '    target: http://127.0.0.1:9',
    '    auth:',
    '      type: static_bearer',
    '      token: ${file:keys}',
    ''
  ].join('\n'))
  const result = loadConfigFile(file, {})
  t.assert.deepStrictEqual(result.issues?.find((issue) => issue.path === 'upstreams.redox.auth.privateKey'), { path: 'upstreams.redox.auth.privateKey', message: 'cannot read file keys/missing.pem (ENOENT; a relative path is read from the config file\'s folder)' })
  t.assert.deepStrictEqual(result.issues?.find((issue) => issue.path === 'upstreams.other.auth.token'), { path: 'upstreams.other.auth.token', message: 'cannot read file keys (EISDIR; a relative path is read from the config file\'s folder)' })
})
