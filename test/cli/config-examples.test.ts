/**
 * The ready-made configs in config/ stay valid: each passes `tollgate check`
 * with its variables set, and names the field when one is missing. Secrets
 * are made at test time (the Redox key with node:crypto); none is committed.
 */
import { test, type TestContext } from 'node:test'
import { generateKeyPairSync } from 'node:crypto'
import { mkdirSync, readdirSync, readFileSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { dirname, join } from 'node:path'
import { parse as parseYaml } from 'yaml'
import { loadConfigFile } from '../../src/config/load.js'
import { REPO_ROOT, runCli } from '../helpers/cli-process.js'
import { fixtureDir } from '../helpers/fixtures.js'

const CONFIG_DIR = join(REPO_ROOT, 'config')

// A real key, so `check` imports it as the signer will; made per run, never written to the repo.
const REDOX_KEY = generateKeyPairSync('rsa', {
  modulusLength: 2048,
  privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  publicKeyEncoding: { type: 'spki', format: 'pem' }
}).privateKey

/** A value for every `${VAR}` the configs reference without a default. */
const VARIABLES: Readonly<Record<string, string>> = {
  HALAXY_USER_AGENT: 'Acme Clinic Sync (dev@acme.example)',
  HALAXY_CLIENT_ID: 'halaxy-client-id',
  HALAXY_CLIENT_SECRET: 'halaxy-secret-5f1c2a',
  HEALTHHERO_IDENTITY_URL: 'https://identity.healthhero.example',
  HEALTHHERO_API_URL: 'traversal.healthhero.example',
  HEALTHHERO_CLIENT_ID: 'healthhero-client-id',
  HEALTHHERO_CLIENT_SECRET: 'healthhero-secret-9d03be',
  REDOX_CLIENT_ID: 'redox-client-id',
  REDOX_KEY_ID: 'acme-2025-01',
  PHOTON_CLIENT_ID: 'photon-client-id',
  PHOTON_CLIENT_SECRET: 'photon-secret-c47e18',
  NIKOHEALTH_DOMAIN: 'acme',
  NIKOHEALTH_CLIENT_ID: 'nikohealth-client-id',
  NIKOHEALTH_CLIENT_SECRET: 'nikohealth-secret-02aa7f',
  SAMPLE_TOKEN: 'compose-sample-token-6b21'
}

/** Contents for every `${file:PATH}` the configs reference (PATH relative to the config file). */
const FILES: Readonly<Record<string, string>> = {
  'secrets/redox-private-key.pem': REDOX_KEY
}

const SECRETS = [...Object.entries(VARIABLES).filter(([name]) => /SECRET|TOKEN/.test(name)).map(([, value]) => value), REDOX_KEY.split('\n')[1] ?? REDOX_KEY]

const HALAXY = '/halaxy → https://au-api.halaxy.com/main'
const HEALTHHERO = '/healthhero → https://traversal.healthhero.example'
const REDOX = '/redox → https://api.redoxengine.com'
const PHOTON = '/photon → https://api.photon.health'
const NIKOHEALTH = '/nikohealth → https://acme.nikohealth.com/api'

/** Per file: the upstreams `check` reports, and one required variable to leave unset with the field it fills. */
const EXAMPLES: Readonly<Record<string, { upstreams: string[], unset: string, field: string }>> = {
  'all-vendors.yaml': { upstreams: [HALAXY, HEALTHHERO, REDOX, PHOTON, NIKOHEALTH], unset: 'REDOX_CLIENT_ID', field: 'upstreams.redox.auth.clientId' },
  'compose.yaml': { upstreams: ['/sample → http://upstream:9000'], unset: 'SAMPLE_TOKEN', field: 'upstreams.sample.auth.token' },
  'halaxy.yaml': { upstreams: [HALAXY], unset: 'HALAXY_CLIENT_SECRET', field: 'upstreams.halaxy.auth.clientSecret' },
  'healthhero.yaml': { upstreams: [HEALTHHERO], unset: 'HEALTHHERO_IDENTITY_URL', field: 'upstreams.healthhero.presetOptions.identityUrl' },
  'nikohealth.yaml': { upstreams: [NIKOHEALTH], unset: 'NIKOHEALTH_CLIENT_SECRET', field: 'upstreams.nikohealth.auth.clientSecret' },
  'photon.yaml': { upstreams: [PHOTON], unset: 'PHOTON_CLIENT_SECRET', field: 'upstreams.photon.auth.clientSecret' },
  'redox.yaml': { upstreams: [REDOX], unset: 'REDOX_KEY_ID', field: 'upstreams.redox.auth.keyId' }
}

interface Reference {
  /** Field path as `check` prints it. */
  readonly path: string
  readonly kind: 'env' | 'file'
  /** Variable name or file path. */
  readonly name: string
  readonly hasDefault: boolean
}

/** Every `${...}` in the parsed config, with the field it sits in. */
function references (value: unknown, path = ''): Reference[] {
  if (typeof value === 'string') {
    return [...value.matchAll(/\$\{([^}]*)\}/g)].map(([, body = '']) => body.startsWith('file:')
      ? { path, kind: 'file' as const, name: body.slice(5).trim(), hasDefault: false }
      : { path, kind: 'env' as const, name: body.split(':-')[0] ?? body, hasDefault: body.includes(':-') })
  }
  if (Array.isArray(value)) return value.flatMap((item, index) => references(item, `${path}[${index}]`))
  if (value !== null && typeof value === 'object') {
    return Object.entries(value).flatMap(([key, child]) => references(child, path === '' ? key : `${path}.${key}`))
  }
  return []
}

const files = readdirSync(CONFIG_DIR).filter((name) => /\.(ya?ml|json)$/.test(name)).sort()
const refs = new Map(files.map((name) => [name, references(parseYaml(readFileSync(join(CONFIG_DIR, name), 'utf8')))]))

/**
 * The config copied to a fresh folder with its `${file:}` secrets beside it,
 * and an env that sets exactly its variables: nothing leaks in from the
 * developer's shell, and a variable with a default gets the default.
 */
function prepare (t: TestContext, name: string, unset?: string): { file: string, env: NodeJS.ProcessEnv } {
  const dir = fixtureDir(t)
  const env: NodeJS.ProcessEnv = {}
  for (const ref of refs.get(name) ?? []) {
    if (ref.kind === 'file') {
      mkdirSync(join(dir.dir, dirname(ref.name)), { recursive: true })
      dir.write(ref.name, FILES[ref.name] ?? '')
    } else {
      env[ref.name] = ref.hasDefault || ref.name === unset ? undefined : VARIABLES[ref.name]
    }
  }
  return { file: dir.write(name, readFileSync(join(CONFIG_DIR, name), 'utf8')), env }
}

test('every config example is listed here, with a value for each variable and file it references', (t: TestContext) => {
  t.assert.deepStrictEqual(files, Object.keys(EXAMPLES).sort())
  const all = [...refs.values()].flat()
  t.assert.deepStrictEqual(all.filter((ref) => ref.kind === 'env' && !ref.hasDefault && VARIABLES[ref.name] === undefined).map((ref) => ref.name), [])
  t.assert.deepStrictEqual(all.filter((ref) => ref.kind === 'file' && FILES[ref.name] === undefined).map((ref) => ref.name), [])
})

test('with nothing set, each example names every variable and file it needs, with its field', (t: TestContext) => {
  const dir = fixtureDir(t)
  for (const name of files) {
    // A copy without its secret files: a key kept beside the real config must not hide the issue.
    const issues = loadConfigFile(dir.write(name, readFileSync(join(CONFIG_DIR, name), 'utf8')), {}).issues ?? []
    const lines = issues.map((issue) => `${issue.path}: ${issue.message}`)
    for (const ref of refs.get(name) ?? []) {
      if (ref.hasDefault) continue
      const expected = ref.kind === 'env'
        ? `${ref.path}: environment variable ${ref.name} is not set`
        : `${ref.path}: cannot read file ${ref.name} (ENOENT; a relative path is read from the config file's folder)`
      t.assert.ok(lines.includes(expected), `${name}: expected "${expected}" in:\n${lines.join('\n')}`)
    }
  }
})

// Each case spawns the CLI through tsx (about a second of start-up): a few at a time.
test('tollgate check on config/*', { concurrency: Math.max(2, Math.min(4, availableParallelism())) }, async (t: TestContext) => {
  await Promise.all(files.flatMap((name) => {
    const example = EXAMPLES[name]
    if (example === undefined) return []
    return [
      t.test(`${name} passes with its variables set`, async (t: TestContext) => {
        t.plan(4)
        const { file, env } = prepare(t, name)
        const { code, stdout, stderr } = await runCli(t, ['check', '--config', file], env)
        t.assert.strictEqual(code, 0, stderr)
        const count = example.upstreams.length
        t.assert.strictEqual(stdout, `${file}: ok (${count} upstream${count === 1 ? '' : 's'}: ${example.upstreams.join(', ')})\n`)
        t.assert.strictEqual(stderr, '')
        t.assert.ok(!SECRETS.some((secret) => stdout.includes(secret)), 'a secret was printed')
      }),
      t.test(`${name} without ${example.unset} exits 1 naming ${example.field}`, async (t: TestContext) => {
        t.plan(3)
        const { file, env } = prepare(t, name, example.unset)
        const { code, stdout, stderr } = await runCli(t, ['check', '--config', file], env)
        t.assert.strictEqual(code, 1)
        t.assert.strictEqual(stderr, `${file}: invalid config\n${example.field}: environment variable ${example.unset} is not set\n`)
        t.assert.strictEqual(stdout, '')
      })
    ]
  }))
})
