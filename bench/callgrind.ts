/**
 * Instructions per request, counted by valgrind (callgrind), for one or more
 * trees of tollgate: a yardstick that a noisy machine does not move. Each
 * tree's src/ is transpiled as `npm run bench` does it (build.ts) and run as
 * production runs it, `node src/cli.js --config FILE`, under
 * `valgrind --tool=callgrind --trace-children=no`, against the bench's
 * loopback upstream. Each process serves a fixed number of small GETs, then
 * gets SIGTERM; the difference between two request counts, divided by their
 * difference, is the cost of a warmed request (startup, the token fetch,
 * JIT warm-up and shutdown cancel out).
 *
 *   node --import tsx bench/callgrind.ts [--tree NAME=DIR ...] [--requests=1000,3000]
 *     [--connections=10] [--repeat=1]
 *
 * With no --tree: this repository as `base`. Only the sidecar process is
 * counted: the upstream and the load (this process) are not under valgrind.
 */
import { spawn } from 'node:child_process'
import { rmSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs'
import { createServer, type AddressInfo } from 'node:net'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { Pool } from 'undici'
import { buildTree, type BuiltTree } from './build.js'
import { startChild } from './proc.js'
import { PREFIX, tollgateConfig, type UpstreamInfo } from './setup.js'

const here = dirname(fileURLToPath(import.meta.url))
const repoRoot = resolve(here, '..')

const { values } = parseArgs({
  options: {
    tree: { type: 'string', multiple: true },
    requests: { type: 'string', default: '1000,3000' },
    connections: { type: 'string', default: '10' },
    repeat: { type: 'string', default: '1' }
  }
})
const trees = (values.tree ?? [`base=${repoRoot}`]).map((spec) => {
  const at = spec.indexOf('=')
  if (at < 1) throw new Error(`--tree NAME=DIR, not ${spec}`)
  return { name: spec.slice(0, at), dir: resolve(spec.slice(at + 1)) }
})
const counts = values.requests.split(',').map(Number)
if (counts.length !== 2 || !counts.every((n) => Number.isInteger(n) && n >= 0) || (counts[0] as number) >= (counts[1] as number)) throw new Error('--requests=LOW,HIGH')
const connections = Number(values.connections)
const repeat = Number(values.repeat)

function log (line: string): void { process.stderr.write(`callgrind: ${line}\n`) }

async function freePort (): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise((resolve) => server.close(resolve))
  return port
}

/** `count` GETs, `connections` at a time; every one must answer 200. */
async function load (origin: string, count: number): Promise<void> {
  const pool = new Pool(origin, { connections, pipelining: 1 })
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < count) {
      next++
      const { statusCode, body } = await pool.request({ method: 'GET', path: `${PREFIX}/small` })
      await body.dump()
      if (statusCode !== 200) throw new Error(`status ${statusCode}`)
    }
  }
  await Promise.all(Array.from({ length: connections }, worker))
  await pool.close()
}

async function waitReady (origin: string, exited: () => boolean): Promise<void> {
  const deadline = performance.now() + 300_000
  while (performance.now() < deadline) {
    if (exited()) throw new Error('the sidecar exited before it was ready')
    try {
      const res = await fetch(`${origin}/healthz`, { signal: AbortSignal.timeout(5000) })
      await res.arrayBuffer()
      if (res.ok) return
    } catch {}
    await new Promise((resolve) => setTimeout(resolve, 1000))
  }
  throw new Error('the sidecar did not get ready within 300 s')
}

/** One callgrind run: total instructions of the sidecar process serving `count` requests. */
async function measure (tree: BuiltTree, name: string, upstream: UpstreamInfo, count: number, workDir: string): Promise<number> {
  const port = await freePort()
  const config = tollgateConfig(upstream) as { server: Record<string, unknown> }
  config.server = { ...config.server, port }
  const configFile = join(workDir, `${name}-${count}.json`)
  const outFile = join(workDir, `${name}-${count}.callgrind`)
  writeFileSync(configFile, JSON.stringify(config))
  const started = performance.now()
  const child = spawn('valgrind', ['--tool=callgrind', '--trace-children=no', `--callgrind-out-file=${outFile}`, process.execPath, join(tree.outDir, 'src', 'cli.js'), '--config', configFile], { stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
  let done = false
  const exited = new Promise<void>((resolve) => child.once('exit', () => { done = true; resolve() }))
  const origin = `http://127.0.0.1:${port}`
  try {
    await waitReady(origin, () => done)
    await load(origin, count)
  } finally {
    child.kill('SIGTERM')
    await exited
  }
  const totals = /^totals:\s+(\d+)/m.exec(readFileSync(outFile, 'utf8'))?.[1]
  if (totals === undefined) throw new Error(`no totals in ${outFile}:\n${stderr.slice(-2000)}`)
  log(`${name} ${count} requests: ${Number(totals).toLocaleString('en')} Ir, ${((performance.now() - started) / 1000).toFixed(0)} s`)
  return Number(totals)
}

async function main (): Promise<void> {
  const cacheRoot = join(repoRoot, 'node_modules', '.cache', 'tollgate-callgrind', String(process.pid))
  process.once('exit', () => rmSync(cacheRoot, { recursive: true, force: true }))
  mkdirSync(cacheRoot, { recursive: true })
  const built = await Promise.all(trees.map(async (t) => ({ ...t, tree: await buildTree(t.dir, here, cacheRoot, t.name) })))
  const upstream = await startChild<UpstreamInfo>((built[0] as { tree: BuiltTree }).tree.outDir, 'upstream')
  const results = new Map<string, number[]>(built.map((t) => [t.name, []]))
  try {
    for (let round = 1; round <= repeat; round++) {
      for (const t of round % 2 === 1 ? built : [...built].reverse()) {
        const low = await measure(t.tree, t.name, upstream.ready, counts[0] as number, cacheRoot)
        const high = await measure(t.tree, t.name, upstream.ready, counts[1] as number, cacheRoot)
        const perRequest = (high - low) / ((counts[1] as number) - (counts[0] as number))
        results.get(t.name)?.push(perRequest)
        log(`${t.name} round ${round}: ${Math.round(perRequest).toLocaleString('en')} Ir/request`)
      }
    }
  } finally {
    await upstream.stop()
  }
  const first = results.get(built[0]?.name ?? '') ?? []
  const median = (xs: readonly number[]): number => { const s = [...xs].sort((a, b) => a - b); return s.length === 0 ? NaN : ((s[(s.length - 1) >> 1] as number) + (s[s.length >> 1] as number)) / 2 }
  const out = [`| tree | Ir/request per round (requests ${counts[1]} − ${counts[0]}, ${connections} conns) | median | vs ${built[0]?.name} |`, '|---|---|---|---|']
  for (const [name, xs] of results) {
    out.push(`| ${name} | ${xs.map((x) => Math.round(x).toLocaleString('en')).join(', ')} | ${Math.round(median(xs)).toLocaleString('en')} | ${(median(xs) / median(first)).toFixed(3)} |`)
  }
  process.stdout.write(`${out.join('\n')}\n`)
}

main().catch((err: unknown) => {
  process.stderr.write(`callgrind failed: ${(err as Error).stack ?? String(err)}\n`)
  process.exit(1)
})
