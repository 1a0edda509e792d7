/**
 * Instructions from spawn to the first proxied 200, counted by valgrind
 * (callgrind, every thread), for tollgate as the image runs it and for the
 * bare proxy: the footprint scenario's ready target, on a yardstick that a
 * shared machine does not move. Each tree is laid out as the image
 * (footprint-image.ts: the image's Node, its ENV and the Deployment's
 * NODE_OPTIONS, the bundle, the baked compile cache) and runs the footprint
 * config, as the footprint scenario runs it (footprintSpec); the bare proxy
 * gets its compile cache from one unmeasured run, as there. Each process is stopped
 * (SIGTERM) at its first 200, so its shutdown is counted too: a few million
 * instructions, alike for all. Under valgrind a start takes 15-25 s.
 *
 *   node --import tsx bench/startup-instructions.ts [--tree NAME=DIR ...] [--rounds=2]
 *
 * With no --tree: this repository as `tollgate`. The bare proxy is always
 * counted, from this repository's bench/footprint-bare.ts.
 */
import { spawn } from 'node:child_process'
import { closeSync, openSync, readFileSync, rmSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { freePort } from '../test/helpers/ports.js'
import { buildTree } from './build.js'
import { imageNode, prepareLayout, type Layout } from './footprint-image.js'
import { PATH, sleep, start, status, stop } from './footprint-process.js'
import { startChild } from './proc.js'
import { footprintSpec } from './scenario-footprint.js'
import type { UpstreamInfo } from './setup.js'

const repoRoot = resolve(import.meta.dirname, '..')
const { values } = parseArgs({ options: { tree: { type: 'string', multiple: true }, rounds: { type: 'string', default: '2' } } })
const trees = (values.tree ?? [`tollgate=${repoRoot}`]).map((spec) => {
  const at = spec.indexOf('=')
  if (at < 1) throw new Error(`--tree NAME=DIR, not ${spec}`)
  return { name: spec.slice(0, at), dir: resolve(spec.slice(at + 1)) }
})
const rounds = Number(values.rounds)
if (!Number.isInteger(rounds) || rounds < 1 || rounds > 10) throw new Error('--rounds: 1 to 10')

const READY_TIMEOUT_MS = 300_000
const work = join(repoRoot, 'node_modules', '.cache', `tollgate-startup-${process.pid}`)

/** Run one process under callgrind until its first proxied 200, stop it: its instructions, all threads. */
async function count (name: string, argv: readonly string[], cwd: string, env: Record<string, string>, port: number): Promise<number> {
  const out = join(work, `${name}.callgrind`)
  const child = spawn('valgrind', ['--tool=callgrind', `--callgrind-out-file=${out}`, ...argv], { cwd, env, stdio: ['ignore', 'ignore', 'pipe'] })
  const kill = (): void => { child.kill('SIGKILL') }
  process.once('exit', kill)
  let stderr = ''
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
  const started = performance.now()
  while (await status(port, PATH) !== 200) {
    if (child.exitCode !== null) throw new Error(`${name} exited ${child.exitCode}: ${stderr.slice(-2000)}`)
    if (performance.now() - started > READY_TIMEOUT_MS) throw new Error(`${name}: no 200 within ${READY_TIMEOUT_MS / 1000} s`)
    await sleep(50)
  }
  const exited = new Promise((resolve) => child.once('exit', resolve))
  child.kill('SIGTERM')
  await exited
  process.removeListener('exit', kill)
  const total = /^(?:summary|totals): (\d+)/m.exec(readFileSync(out, 'utf8'))?.[1]
  if (total === undefined) throw new Error(`${name}: no total in ${out}`)
  return Number(total)
}

const main = await buildTree(repoRoot, import.meta.dirname, join(work, 'build'), 'main')
const upstream = await startChild<UpstreamInfo>(main.outDir, 'upstream')
try {
  const node = imageNode(repoRoot, false)
  const layouts = trees.map((tree) => ({ ...tree, layout: prepareLayout(tree.dir, main.outDir, join(work, tree.name), node) }))
  const bareLayout = layouts[0]?.layout as Layout
  process.stderr.write(`startup: Node ${node.version}; first the bare proxy's compile cache, by one run not counted\n`)
  const devNull = openSync('/dev/null', 'a')
  await stop(await start(footprintSpec(bareLayout, upstream.ready, 'bare', await freePort(), undefined), devNull))
  closeSync(devNull)
  const rows: string[] = []
  for (let round = 1; round <= rounds; round++) {
    for (const target of [{ name: 'bare', layout: bareLayout, bare: true }, ...layouts.map((l) => ({ ...l, bare: false }))]) {
      const run = footprintSpec(target.layout, upstream.ready, target.bare ? 'bare' : 'tollgate', await freePort(), undefined)
      const instructions = await count(`${target.name}-${round}`, run.argv, run.cwd, run.env, run.port)
      rows.push(`| ${round} | ${target.name} | ${(instructions / 1e6).toFixed(1)} |`)
      process.stderr.write(`startup: round ${round}, ${target.name}: ${(instructions / 1e6).toFixed(1)} M instructions\n`)
    }
  }
  process.stdout.write(['| round | target | M instructions to the first 200 |', '|---|---|---:|', ...rows, ''].join('\n'))
} finally {
  await upstream.stop()
  rmSync(work, { recursive: true, force: true })
}
