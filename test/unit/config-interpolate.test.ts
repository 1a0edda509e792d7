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

function tokenIssues (token: string, env: NodeJS.ProcessEnv = {}): { issues: string[], sent: string | undefined } {
  const result = resolveConfig({ upstreams: { a: { target: 'http://127.0.0.1:9', auth: { type: 'static_bearer', token } } } }, { env })
  const auth = result.config?.upstreams[0]?.auth
  return { issues: formatIssues(result.issues ?? []).split('\n').filter((line) => line !== ''), sent: auth?.type === 'static_bearer' ? auth.token : undefined }
}

test('issue 15: a ${ that is not closed is a config error naming the field, never sent as the credential', (t: TestContext) => {
  t.plan(4)
  const env = { API_TOKEN: 'tok' }
  t.assert.deepStrictEqual(tokenIssues('${API_TOKEN', env), { issues: ['upstreams.a.auth.token: ${API_TOKEN is not closed: write ${API_TOKEN}, or $${ for a literal ${'], sent: undefined })
  t.assert.deepStrictEqual(tokenIssues('Bearer-${', env).issues, ['upstreams.a.auth.token: a ${ is not closed: write ${NAME}, or $${ for a literal ${'])
  // Another reference before the brace: the first one is unclosed, references do not nest.
  t.assert.deepStrictEqual(tokenIssues('${API_TOKEN ${API_TOKEN}', env).issues, ['upstreams.a.auth.token: ${API_TOKEN is not closed before the next ${ (references do not nest): write ${API_TOKEN}, or $${ for a literal ${'])
  t.assert.deepStrictEqual(tokenIssues('${file:${KEY_PATH}}', env).issues, ['upstreams.a.auth.token: ${file:… is not closed before the next ${ (references do not nest): write ${file:PATH}, or $${ for a literal ${'])
})

test('issue 15: an unknown ${kind:…} form is a config error naming the field, with the forms that exist', (t: TestContext) => {
  t.plan(6)
  const env = { API_TOKEN: 'tok' }
  const forms = 'the forms are ${NAME}, ${NAME:-default} and ${file:PATH}'
  t.assert.deepStrictEqual(tokenIssues('${env:API_TOKEN}', env), { issues: [`upstreams.a.auth.token: \${env:…} is not a form tollgate knows (did you mean \${API_TOKEN}?); ${forms}`], sent: undefined })
  t.assert.deepStrictEqual(tokenIssues('${API_TOKEN:fallback}', env).issues, [`upstreams.a.auth.token: \${API_TOKEN:…} is not a form tollgate knows (a default is written \${API_TOKEN:-default}); ${forms}`])
  t.assert.deepStrictEqual(tokenIssues('${API_TOKEN:?unset}', env).issues, [`upstreams.a.auth.token: \${API_TOKEN:…} is not a form tollgate knows (a default is written \${API_TOKEN:-default}); ${forms}`])
  t.assert.deepStrictEqual(tokenIssues('${FILE:token.txt}', env).issues, [`upstreams.a.auth.token: \${FILE:…} is not a form tollgate knows (did you mean \${file:…}?); ${forms}`])
  t.assert.deepStrictEqual(tokenIssues('${API_TOKEN-fallback}', env).issues, [`upstreams.a.auth.token: \${API_TOKEN…} is not a form tollgate knows (a default is written \${API_TOKEN:-default}); ${forms}`])
  t.assert.deepStrictEqual(tokenIssues('${9 lives}', env).issues, [`upstreams.a.auth.token: \${…} is not a valid reference (a variable name is letters, digits and _, not starting with a digit); ${forms}`])
})

test('issue 15: a value that is exactly $NAME is refused; $$ before a name or { is a literal $; any other $ stays', (t: TestContext) => {
  t.plan(2)
  t.assert.deepStrictEqual(tokenIssues('$API_TOKEN', { API_TOKEN: 'tok' }), { issues: ['upstreams.a.auth.token: $API_TOKEN is not interpolated: did you mean ${API_TOKEN}? write $$API_TOKEN for a literal'], sent: undefined })
  const headers = headersOf({
    'x-escaped-name': '$$API_TOKEN',
    'x-escaped-brace': '$${API_TOKEN}',
    'x-escaped-inline': 'pa$$word',
    'x-dollar-amount': 'costs $5 or $$5',
    'x-inline-name': 'Bearer $API_TOKEN',
    'x-lone': '$',
    'x-pair': '$$',
    'x-trailing': 'abc$'
  }, { API_TOKEN: 'tok' })
  t.assert.deepStrictEqual({ ...headers }, {
    'x-escaped-name': '$API_TOKEN',
    'x-escaped-brace': '${API_TOKEN}',
    'x-escaped-inline': 'pa$word',
    'x-dollar-amount': 'costs $5 or $$5',
    'x-inline-name': 'Bearer $API_TOKEN',
    'x-lone': '$',
    'x-pair': '$$',
    'x-trailing': 'abc$'
  })
})

test('issue 15: a variable set to "" is reported as set but empty, with the way to allow it', (t: TestContext) => {
  t.plan(2)
  t.assert.deepStrictEqual(tokenIssues('${API_TOKEN}', { API_TOKEN: '' }).issues, ['upstreams.a.auth.token: environment variable API_TOKEN is set but empty; write ${API_TOKEN:-} to allow empty'])
  t.assert.deepStrictEqual(tokenIssues('${API_TOKEN}', {}).issues, ['upstreams.a.auth.token: environment variable API_TOKEN is not set'])
})

test('issue 15: ${file:} trims every trailing CR and LF (kubectl-created secrets), and nothing else', (t: TestContext) => {
  t.plan(1)
  const dir = fixtureDir(t)
  dir.write('two-lf.txt', 'two-lf\n\n')
  dir.write('crlf-twice.txt', 'crlf-twice\r\n\r\n')
  dir.write('inner.txt', 'line1\nline2\n')
  dir.write('spaces.txt', 'spaces  \n')
  const headers = headersOf({ 'x-1': '${file:two-lf.txt}', 'x-2': '${file:crlf-twice.txt}', 'x-3': '${file:spaces.txt}' }, {}, dir.dir)
  t.assert.deepStrictEqual({ ...headers }, { 'x-1': 'two-lf', 'x-2': 'crlf-twice', 'x-3': 'spaces  ' })
})

test('issue 15: only a relative ${file:} path gets the relative-path hint', (t: TestContext) => {
  t.plan(1)
  const dir = fixtureDir(t)
  const absolute = join(dir.dir, 'missing.pem')
  t.assert.deepStrictEqual(tokenIssues(`\${file:${absolute}}`).issues, [`upstreams.a.auth.token: cannot read file ${absolute} (ENOENT)`])
})
