/**
 * tollgate as a user gets it: by `npx --no -- tollgate` inside a checkout, or
 * from the tarball `npm pack` makes.
 *
 * - In the checkout (after `npm ci`, which builds dist/), `npx --no -- tollgate
 *   --version` runs this tollgate, offline.
 * - In an empty folder, the same command fails instead of installing the
 *   `tollgate` the registry has (which is not this project). The registry is
 *   a loopback one serving an impostor `tollgate`, so nothing leaves the
 *   machine, and the same command with `--yes` proves the impostor would have
 *   been fetched and run had `--no` not stopped it.
 * - The tarball carries dist/ (no build step on install), LICENSE, the README
 *   and everything the shipped docs link to, never config/secrets/, src/ or
 *   tests; its source maps carry their sources. Installed with `--omit=dev` in
 *   an empty folder, `npx --no -- tollgate --version` works there.
 *
 * CLI tests run the built dist/ (`npm run build` first). The pack skips
 * `prepare`: it would rebuild dist/ under the other CLI tests' feet; what it
 * packs is the dist/ those tests run.
 */
import { test, type TestContext } from 'node:test'
import { spawn } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { dirname, join, posix } from 'node:path'
import { REPO_ROOT } from '../helpers/cli-process.js'
import { fixtureDir } from '../helpers/fixtures.js'

const PACKAGE = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { name: string, version: string, license: string, files: string[], bin: { tollgate: string } }
const INSTALL_TIMEOUT_MS = 120_000

interface Ran { readonly code: number | null, readonly stdout: string, readonly stderr: string }

/**
 * npm's settings for a child: none inherited from an enclosing `npm test`
 * (npm_config_* of the caller's config), a user config of our own, no update
 * check, no audit, no fund.
 */
function npmEnv (extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [key, value] of Object.entries(process.env)) if (!/^npm_/i.test(key)) env[key] = value
  return { ...env, npm_config_update_notifier: 'false', npm_config_audit: 'false', npm_config_fund: 'false', NO_UPDATE_NOTIFIER: '1', ...extra }
}

function run (t: TestContext, command: string, args: readonly string[], options: { cwd: string, env: NodeJS.ProcessEnv, timeoutMs?: number }): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString() })
    child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`${command} ${args.join(' ')}: no exit after ${options.timeoutMs ?? 60_000} ms\n${stderr}`))
    }, options.timeoutMs ?? 60_000)
    t.after(() => { clearTimeout(timer); if (child.exitCode === null) child.kill('SIGKILL') })
    child.on('error', reject)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
  })
}

/** A folder with an empty user config for npm: nothing from ~/.npmrc (such as yes=false) decides the outcome. */
function npmHome (t: TestContext): { dir: string, userconfig: string, cache: string } {
  const { dir } = fixtureDir(t)
  const userconfig = join(dir, 'npmrc')
  writeFileSync(userconfig, '')
  const cache = join(dir, 'cache')
  return { dir, userconfig, cache }
}

/** `npm pack --json` of `cwd`: the tarball's path and its file list. */
async function pack (t: TestContext, cwd: string, destination: string, env: NodeJS.ProcessEnv, dryRun = false): Promise<{ tarball: string, files: string[], integrity: string, shasum: string }> {
  const ran = await run(t, 'npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', destination, ...(dryRun ? ['--dry-run'] : [])], { cwd, env })
  if (ran.code !== 0) throw new Error(`npm pack in ${cwd}: exit ${String(ran.code)}\n${ran.stderr}`)
  const [info] = JSON.parse(ran.stdout) as Array<{ filename: string, files: Array<{ path: string }>, integrity: string, shasum: string }>
  if (info === undefined) throw new Error(`npm pack printed no package: ${ran.stdout}`)
  return { tarball: join(destination, info.filename), files: info.files.map((file) => file.path).sort(), integrity: info.integrity, shasum: info.shasum }
}

/** A registry on loopback that knows one package, `tollgate`: an impostor whose bin says so and leaves a mark. */
async function impostorRegistry (t: TestContext, env: NodeJS.ProcessEnv): Promise<{ url: string, marker: string, requests: string[] }> {
  const { dir } = fixtureDir(t)
  const marker = join(dir, 'impostor-ran')
  const source = join(dir, 'impostor')
  mkdirSync(source)
  writeFileSync(join(source, 'package.json'), JSON.stringify({ name: 'tollgate', version: '9.9.9', bin: { tollgate: 'cli.js' } }))
  writeFileSync(join(source, 'cli.js'), `#!/usr/bin/env node\nrequire('node:fs').writeFileSync(${JSON.stringify(marker)}, 'ran')\nconsole.log('IMPOSTOR 9.9.9')\n`, { mode: 0o755 })
  const packed = await pack(t, source, dir, env)
  const tarball = readFileSync(packed.tarball)
  const requests: string[] = []
  const server: Server = createServer((request, response) => {
    requests.push(request.url ?? '')
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    if (request.url === '/tollgate') {
      response.setHeader('content-type', 'application/json')
      response.end(JSON.stringify({
        name: 'tollgate',
        'dist-tags': { latest: '9.9.9' },
        versions: { '9.9.9': { name: 'tollgate', version: '9.9.9', bin: { tollgate: 'cli.js' }, dist: { tarball: `${url}/tollgate/-/tollgate-9.9.9.tgz`, integrity: packed.integrity, shasum: packed.shasum } } }
      }))
    } else if (request.url === '/tollgate/-/tollgate-9.9.9.tgz') {
      response.setHeader('content-type', 'application/octet-stream')
      response.end(tarball)
    } else {
      response.statusCode = 404
      response.end('{}')
    }
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())))
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, marker, requests }
}

test('in the checkout, npx --no -- tollgate --version runs this tollgate, offline', async (t: TestContext) => {
  t.assert.ok(existsSync(join(REPO_ROOT, PACKAGE.bin.tollgate)), `${PACKAGE.bin.tollgate} is missing: run npm ci (or npm run build) first`)
  // The usual cache (a fresh one costs npm some 20 s here), but offline: nothing is fetched into it.
  const ran = await run(t, 'npx', ['--no', '--', 'tollgate', '--version'], {
    cwd: REPO_ROOT,
    env: npmEnv({ npm_config_userconfig: npmHome(t).userconfig, npm_config_offline: 'true' })
  })
  t.assert.strictEqual(ran.code, 0, ran.stderr)
  t.assert.strictEqual(ran.stdout.trim(), PACKAGE.version)
})

test('outside a checkout, npx --no -- tollgate fails instead of fetching the registry\'s tollgate', async (t: TestContext) => {
  const home = npmHome(t)
  const registry = await impostorRegistry(t, npmEnv({ npm_config_userconfig: home.userconfig, npm_config_cache: home.cache }))
  const env = npmEnv({ npm_config_userconfig: home.userconfig, npm_config_cache: home.cache, npm_config_registry: registry.url })
  const empty = fixtureDir(t).dir

  const refused = await run(t, 'npx', ['--no', '--', 'tollgate', '--version'], { cwd: empty, env })
  t.assert.notStrictEqual(refused.code, 0, `exit 0: ${refused.stdout}`)
  t.assert.doesNotMatch(refused.stdout, /IMPOSTOR|\d+\.\d+\.\d+/, 'something ran')
  t.assert.strictEqual(existsSync(registry.marker), false, 'the registry\'s tollgate ran')
  t.assert.ok(!registry.requests.some((url) => url.endsWith('.tgz')), `the tarball was fetched: ${registry.requests.join(', ')}`)
  t.assert.deepStrictEqual(readdirSync(empty), [], 'npx wrote into the folder')

  // The control: the same command with --yes does fetch and run it, so the refusal above is --no's doing.
  const fetched = await run(t, 'npx', ['--yes', '--', 'tollgate', '--version'], { cwd: empty, env, timeoutMs: INSTALL_TIMEOUT_MS })
  t.assert.match(fetched.stdout, /IMPOSTOR 9\.9\.9/, fetched.stderr)
  t.assert.strictEqual(existsSync(registry.marker), true)
})

test('`files` ships the example configs, never config/secrets/, nor sources or tests', async (t: TestContext) => {
  // A stand-in tree with everything a developer's checkout may hold, packed with the real `files`.
  const tree = fixtureDir(t)
  writeFileSync(join(tree.dir, 'package.json'), JSON.stringify({ name: 'tollgate-files-probe', version: '0.0.0', license: PACKAGE.license, files: PACKAGE.files, bin: PACKAGE.bin }))
  const present = ['README.md', 'LICENSE', 'SECURITY.md', 'dist/cli.js', 'dist/cli.js.map', 'config/halaxy.yaml', 'config/secrets/redox-private-key.pem', 'config/secrets/key.jwks.json', 'docs/config.md', 'docs/vendors/redox.md', 'deploy/kubernetes/deployment.yaml', 'src/cli.ts', 'test/cli/x.test.ts', 'bench/run.ts', '.ci/run', '.env']
  for (const file of present) {
    mkdirSync(join(tree.dir, dirname(file)), { recursive: true })
    writeFileSync(join(tree.dir, file), 'x')
  }
  const packed = await pack(t, tree.dir, tree.dir, npmEnv({ npm_config_userconfig: npmHome(t).userconfig }), true)
  t.assert.deepStrictEqual(packed.files, ['LICENSE', 'README.md', 'SECURITY.md', 'config/halaxy.yaml', 'deploy/kubernetes/deployment.yaml', 'dist/cli.js', 'dist/cli.js.map', 'docs/config.md', 'docs/vendors/redox.md', 'package.json'])
})

test('the packed tarball installs with --omit=dev and runs with no build step', { timeout: INSTALL_TIMEOUT_MS + 30_000 }, async (t: TestContext) => {
  t.assert.ok(existsSync(join(REPO_ROOT, PACKAGE.bin.tollgate)), `${PACKAGE.bin.tollgate} is missing: run npm run build first`)
  t.assert.strictEqual(PACKAGE.license, 'Apache-2.0')
  const license = readFileSync(join(REPO_ROOT, 'LICENSE'), 'utf8')
  t.assert.match(license, /Apache License\s+Version 2\.0, January 2004/)
  t.assert.match(license, /END OF TERMS AND CONDITIONS/, 'LICENSE is not the full Apache-2.0 text')

  const work = fixtureDir(t).dir
  const packed = await pack(t, REPO_ROOT, work, npmEnv({}))
  const files = new Set(packed.files)
  for (const required of ['package.json', 'LICENSE', 'README.md', 'SECURITY.md', PACKAGE.bin.tollgate]) t.assert.ok(files.has(required), `${required} is not in the tarball`)
  for (const file of files) t.assert.doesNotMatch(file, /^(src|test|bench|scripts|\.ci)\/|^config\/secrets\/|\.test\.ts$/, `${file} should not ship`)

  // Every relative link in a shipped Markdown file points at a shipped file (or folder).
  const shippedDirs = new Set([...files].flatMap((file) => file.split('/').slice(0, -1).map((_, i, parts) => parts.slice(0, i + 1).join('/'))))
  const dangling: string[] = []
  for (const file of [...files].filter((name) => name.endsWith('.md'))) {
    const text = readFileSync(join(REPO_ROOT, file), 'utf8').replace(/```[\s\S]*?```/g, '').replace(/`[^`]*`/g, '')
    for (const [, target = ''] of text.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith('#')) continue
      const path = posix.normalize(posix.join(posix.dirname(file), decodeURIComponent(target.split('#')[0] as string))).replace(/\/$/, '')
      if (!files.has(path) && !shippedDirs.has(path)) dangling.push(`${file}: ${target}`)
    }
  }
  t.assert.deepStrictEqual(dangling, [], 'links in shipped docs to files the package does not carry')

  // dist/ is this tree's build: tsc never deletes output, so a module removed from src/ lingers in an old checkout's dist/.
  const stale = [...files].filter((name) => /^dist\/.*\.js$/.test(name) && !existsSync(join(REPO_ROOT, name.replace(/^dist\//, 'src/').replace(/\.js$/, '.ts'))))
  t.assert.deepStrictEqual(stale, [], 'dist/ holds output of sources that are gone: rm -rf dist && npm run build')

  // Source maps that ship carry their sources: they work without src/ (not shipped).
  const maps = [...files].filter((name) => name.endsWith('.js.map'))
  for (const map of maps) {
    const { sources, sourcesContent } = JSON.parse(readFileSync(join(REPO_ROOT, map), 'utf8')) as { sources: string[], sourcesContent?: Array<string | null> }
    for (const [i, source] of sources.entries()) {
      const shipped = files.has(posix.normalize(posix.join(posix.dirname(map), source)))
      t.assert.ok(shipped || typeof sourcesContent?.[i] === 'string', `${map}: source ${source} is neither shipped nor inline`)
    }
  }

  // An empty folder, the tarball, production dependencies only, no build.
  const app = join(work, 'app')
  mkdirSync(app)
  const installed = await run(t, 'npm', ['install', packed.tarball, '--omit=dev', '--prefer-offline', '--no-audit', '--no-fund'], { cwd: app, env: npmEnv({}), timeoutMs: INSTALL_TIMEOUT_MS })
  t.assert.strictEqual(installed.code, 0, installed.stderr)
  const root = join(app, 'node_modules', PACKAGE.name)
  t.assert.ok(existsSync(join(root, PACKAGE.bin.tollgate)), 'dist/ came with the package')
  t.assert.strictEqual(existsSync(join(root, 'src')), false)
  t.assert.strictEqual(existsSync(join(app, 'node_modules', 'typescript')), false, 'a dev dependency was installed')

  const version = await run(t, 'npx', ['--no', '--', 'tollgate', '--version'], { cwd: app, env: npmEnv({ npm_config_offline: 'true' }) })
  t.assert.strictEqual(version.code, 0, version.stderr)
  t.assert.strictEqual(version.stdout.trim(), PACKAGE.version)

  // The shipped example config checks from the package, too.
  const checked = await run(t, 'npx', ['--no', '--', 'tollgate', 'check', '--config', join(root, 'config', 'compose.yaml')], { cwd: app, env: npmEnv({ npm_config_offline: 'true', SAMPLE_TOKEN: 'sample-token-for-check' }) })
  t.assert.strictEqual(checked.code, 0, checked.stderr)
})
