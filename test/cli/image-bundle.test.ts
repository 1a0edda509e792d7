/**
 * The container image runs tollgate bundled (scripts/build.mjs --bundle, the
 * Dockerfile's build step), not tsc's dist/ that the CLI tests run: built
 * here as the image builds it, beside a package.json as in the image, it
 * names its version, checks a config, proxies with the credential in place,
 * serves /metrics (prom-client, left outside the bundle) and drains on SIGTERM.
 */
import { execFileSync, spawn } from 'node:child_process'
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { REPO_ROOT } from '../helpers/cli-process.js'
import { fixtureDir } from '../helpers/fixtures.js'
import { startOrigin } from '../helpers/origin.js'

const PACKAGE = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }

/** /app of the image: the bundle as dist/ and package.json; under node_modules/.cache so that what stays outside the bundle resolves. */
function imageApp (t: TestContext): string {
  const app = join(REPO_ROOT, 'node_modules', '.cache', `tollgate-image-test-${process.pid}`)
  t.after(() => rmSync(app, { recursive: true, force: true }))
  mkdirSync(app, { recursive: true })
  execFileSync(process.execPath, ['scripts/build.mjs', '--bundle', '--out-dir', join(app, 'dist')], { cwd: REPO_ROOT, stdio: ['ignore', 'ignore', 'pipe'] })
  copyFileSync(join(REPO_ROOT, 'package.json'), join(app, 'package.json'))
  return app
}

test('the image\'s bundled dist/ runs the sidecar: version, check, a proxied request with its credential, /metrics, SIGTERM', { timeout: 60_000 }, async (t: TestContext) => {
  t.plan(8)
  const app = imageApp(t)
  const cli = join(app, 'dist', 'cli.js')
  const env = { ...process.env, NODE_ENV: 'production', TOLLGATE_CONFIG: undefined, TOLLGATE_LOG_LEVEL: undefined, TOLLGATE_LOG_FORMAT: undefined }
  t.assert.strictEqual(execFileSync(process.execPath, [cli, '--version'], { cwd: app, env, encoding: 'utf8' }).trim(), PACKAGE.version)

  const origin = await startOrigin(t)
  const config = fixtureDir(t).write('tollgate.yaml', `server:\n  port: 0\nupstreams:\n  a:\n    target: ${origin.url}\n    auth:\n      type: static_bearer\n      token: bundle-test-token-value\n`)
  t.assert.match(execFileSync(process.execPath, [cli, 'check', config], { cwd: app, env, encoding: 'utf8' }), /: ok \(1 upstream/)

  const child = spawn(process.execPath, [cli, '--config', config], { cwd: app, env, stdio: ['ignore', 'pipe', 'pipe'] })
  t.after(() => { if (child.exitCode === null) child.kill('SIGKILL') })
  let out = ''
  let err = ''
  child.stderr.on('data', (chunk: Buffer) => { err += chunk.toString() })
  const port = await new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString()
      const match = /listening at http:\/\/127\.0\.0\.1:(\d+)/.exec(out)
      if (match !== null) resolve(match[1] as string)
    })
    child.once('exit', (code) => reject(new Error(`exited ${code}: ${err}`)))
  })
  const proxied = await fetch(`http://127.0.0.1:${port}/a/Patient?active=true`)
  t.assert.strictEqual(proxied.status, 200)
  const echoed = await proxied.json() as { url: string, headers: Record<string, string> }
  t.assert.strictEqual(echoed.url, '/Patient?active=true')
  t.assert.strictEqual(echoed.headers.authorization, 'Bearer bundle-test-token-value')
  const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()
  t.assert.match(metrics, /^tollgate_requests_total\{upstream="a",method="GET",status_class="2xx"\} 1$/m)
  t.assert.match(metrics, /^tollgate_process_resident_memory_bytes \d+/m)
  child.kill('SIGTERM')
  const code = await new Promise((resolve) => child.once('exit', resolve))
  t.assert.strictEqual(code, 0, err)
})

// V8 keeps each module's source in the heap, one byte a character only while every character is
// ASCII: one character beyond it (a comment's "’", a licence's "ä") and the whole file is held at
// two bytes a character. The three largest chunks each had one: some 3 MB of an idle sidecar's heap.
test('every JavaScript file of the image\'s bundle is ASCII, so V8 holds its source at one byte a character', { timeout: 60_000 }, async (t: TestContext) => {
  const dist = join(imageApp(t), 'dist')
  const files = readdirSync(dist, { recursive: true, encoding: 'utf8' }).filter((name) => name.endsWith('.js'))
  t.assert.ok(files.length > 1, `the bundle has its chunks: ${files.join(', ')}`)
  for (const name of files) {
    const text = readFileSync(join(dist, name), 'latin1')
    const at = text.search(/[\u0080-\u00ff]/)
    t.assert.strictEqual(at, -1, `${name}: a byte beyond ASCII at ${at}: ${JSON.stringify(text.slice(Math.max(0, at - 40), at + 10))}`)
  }
})
