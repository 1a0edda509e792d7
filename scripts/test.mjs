#!/usr/bin/env node
// Runs the test suite and then reads its complete output for anything that
// looks like a leaked secret: a PEM private key, a JWT (assertions and
// access tokens), a bearer credential, an OAuth2 client assertion or secret
// field. Exits non-zero on a finding, even when every test passed. The
// runner's summary is repeated last, so CI still reads node's closing lines.
import { spawn } from 'node:child_process'
import { existsSync, readdirSync } from 'node:fs'
import { LEAKS } from './secret-patterns.mjs'

const DIRS = ['test/unit', 'test/integration', 'test/cli']
// --skip-file=PATH (repeatable) leaves a file out (.ci/run: the benchmark smoke on the lines the image does not ship); every other argument goes to node --test.
const skipped = new Set(process.argv.slice(2).filter((arg) => arg.startsWith('--skip-file=')).map((arg) => arg.slice('--skip-file='.length)))
const passed = process.argv.slice(2).filter((arg) => !arg.startsWith('--skip-file='))
const files = DIRS.flatMap((dir) => readdirSync(dir).filter((name) => name.endsWith('.test.ts')).map((name) => `${dir}/${name}`)).filter((file) => !skipped.has(file)).sort()
for (const file of skipped) if (!existsSync(file)) throw new Error(`--skip-file=${file}: no such test file`)

const child = spawn(process.execPath, ['--import', 'tsx', '--import', './test/helpers/warning-guard.ts', '--test', '--test-reporter=tap', '--test-concurrency=2', ...passed, ...files], { stdio: ['ignore', 'pipe', 'pipe'] })
const output = []
child.stdout.on('data', (chunk) => { output.push(chunk); process.stdout.write(chunk) })
child.stderr.on('data', (chunk) => { output.push(chunk); process.stderr.write(chunk) })
child.on('close', (code) => {
  const lines = Buffer.concat(output).toString('utf8').split('\n')
  const findings = []
  lines.forEach((line, index) => {
    for (const [kind, pattern] of LEAKS) if (pattern.test(line)) findings.push(`line ${index + 1}: ${kind}`)
  })
  if (findings.length > 0) {
    // Where, and what kind, but not the match itself: that would leak it again.
    process.stderr.write(`\nsecret scan: ${findings.length} finding(s) in the test output:\n${findings.slice(0, 50).join('\n')}\n`)
  } else {
    process.stderr.write(`\nsecret scan: ${lines.length} lines of test output, no secret, token, assertion or private key\n`)
  }
  // Node's own summary last, for whoever reads the closing lines.
  const summary = lines.filter((line) => /^# (tests|suites|pass|fail|cancelled|skipped|todo|duration_ms) /.test(line)).slice(-8)
  if (summary.length > 0) process.stdout.write(`${summary.join('\n')}\n`)
  process.exitCode = code !== 0 ? (code ?? 1) : findings.length > 0 ? 1 : 0
})
