#!/usr/bin/env node
// `NODE_COMPILE_CACHE=DIR node scripts/bake-compile-cache.mjs [APP_DIR]`: fill
// Node's module compile cache for the sidecar, so that a container starts
// from compiled code instead of parsing and compiling every module anew. It
// starts the sidecar once as the image runs it (APP_DIR/dist/cli.js with a
// YAML config: APP_DIR/config/halaxy.yaml, placeholder credentials, port 0),
// waits for its `started` line, and stops it with SIGTERM: at exit Node
// writes the cache for every module that process compiled. No request is
// made and nothing is contacted. The Dockerfile runs this at build time; the
// footprint bench (bench/scenario-footprint.ts) runs it the same way.
import { spawn } from 'node:child_process'
import { join, resolve } from 'node:path'

const app = resolve(process.argv[2] ?? '.')
if (process.env.NODE_COMPILE_CACHE === undefined || process.env.NODE_COMPILE_CACHE === '') {
  process.stderr.write('bake-compile-cache: set NODE_COMPILE_CACHE to the cache directory\n')
  process.exit(2)
}

const child = spawn(process.execPath, [join(app, 'dist', 'cli.js'), '--config', join(app, 'config', 'halaxy.yaml'), '--port', '0'], {
  cwd: app,
  env: {
    ...process.env,
    HALAXY_CLIENT_ID: 'bake',
    HALAXY_CLIENT_SECRET: 'bake-placeholder',
    HALAXY_USER_AGENT: 'tollgate image build (build@example.invalid)'
  },
  stdio: ['ignore', 'pipe', 'inherit']
})
const timer = setTimeout(() => {
  process.stderr.write('bake-compile-cache: the sidecar did not start within 30 s\n')
  child.kill('SIGKILL')
}, 30_000)
let seen = ''
child.stdout.on('data', (chunk) => {
  seen += chunk.toString('utf8')
  if (/"msg":"started"/.test(seen)) {
    seen = ''
    child.kill('SIGTERM')
  }
})
child.on('exit', (code, signal) => {
  clearTimeout(timer)
  if (code !== 0) {
    process.stderr.write(`bake-compile-cache: the sidecar exited ${code ?? signal}\n`)
    process.exitCode = 1
  }
})
