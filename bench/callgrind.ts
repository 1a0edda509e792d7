/**
 * Instructions per request, counted by valgrind (callgrind), for one or more
 * trees of tollgate: a yardstick that a noisy machine does not move. Each
 * tree's src/ is transpiled as `npm run bench` does it (build.ts) and run as
 * production runs it, `node src/cli.js --config FILE`, under
 * `valgrind --tool=callgrind --trace-children=no`, against a loopback
 * upstream that answers as the bench's does (startUpstream).
 *
 * `--requests=LOW,HIGH`: each process first serves LOW small GETs (startup,
 * the token fetch, the JIT warm-up), then its counters are zeroed
 * (`callgrind_control --zero`) and it serves `--samples` runs of HIGH − LOW
 * requests, each followed by a dump (`callgrind_control --dump`): each dump's
 * total over HIGH − LOW is the cost of a warmed request. Under valgrind the
 * warm-up is long: 2,000-request samples after 1,000 requests cost 1.09 M,
 * 0.85 M, 0.67 M instructions per request in turn; after 8,000 they hover
 * near 0.3 M, a major GC lifting one sample in four or so by up to half.
 * Hence the median (spikes left out) and the mean (GC counted) over many
 * samples. Counting two fresh processes of LOW and HIGH requests and taking
 * the difference, as this script first did, measured mostly the warm-up and
 * moved by 15 % between runs of the same tree.
 *
 *   node --import tsx bench/callgrind.ts [--tree NAME=DIR ...] [--requests=8000,10000]
 *     [--samples=5] [--connections=10] [--repeat=1]
 *
 * With no --tree: this repository as `base`. Only the sidecar process is
 * counted (all its threads): the upstream and the load (this process) are
 * not under valgrind.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { copyFileSync, rmSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs'
import { createServer as createHttpServer } from 'node:http'
import { createServer, type AddressInfo } from 'node:net'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs, promisify } from 'node:util'
import { Pool } from 'undici'
import { buildTree, type BuiltTree } from './build.js'
import { PREFIX, tollgateConfig, type UpstreamInfo } from './setup.js'

const here = dirname(fileURLToPath(import.meta.url))
const repoRoot = resolve(here, '..')

const { values } = parseArgs({
  options: {
    tree: { type: 'string', multiple: true },
    requests: { type: 'string', default: '8000,10000' },
    connections: { type: 'string', default: '10' },
    repeat: { type: 'string', default: '1' },
    samples: { type: 'string', default: '5' }
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
const samples = Number(values.samples)
const execFileAsync = promisify(execFile)
/** The valgrind process being measured, killed if this one exits first. */
let running: ChildProcess | undefined
let processes = 0

const READY_TIMEOUT_MS = 900_000

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
      if (statusCode !== 200) throw new Error(`status ${statusCode}: ${(await body.text()).slice(0, 500)}`)
      await body.dump()
    }
  }
  await Promise.all(Array.from({ length: connections }, worker))
  await pool.close()
}

/**
 * The vendor side, in this process (not counted): bench/upstream.ts's small
 * GET answer and token, but sockets kept alive for 10 minutes. Under
 * valgrind on a busy machine the sidecar can stall for longer than
 * upstream.ts's 10 s keep-alive, before its own 4 s pool timer has fired,
 * and then sends a request on a socket the upstream has just closed (a 502,
 * UND_ERR_SOCKET).
 */
async function startUpstream (): Promise<{ info: UpstreamInfo, close: () => Promise<void> }> {
  const small = Buffer.from(JSON.stringify({ resourceType: 'Patient', id: 'bench-1', active: true, name: [{ family: 'Bench', given: ['Tollgate'] }] }))
  const smallHeaders = { 'content-type': 'application/json', 'content-length': String(small.length) }
  const token = JSON.stringify({ access_token: 'bench-token-1', token_type: 'Bearer', expires_in: 3600 })
  const servers = [
    createHttpServer((req, res) => { req.resume(); req.on('end', () => res.writeHead(200, smallHeaders).end(small)) }),
    createHttpServer((req, res) => { req.resume(); req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end(token)) })
  ]
  const ports: number[] = []
  for (const server of servers) {
    server.keepAliveTimeout = 600_000
    server.headersTimeout = 600_000 + 1000
    server.requestTimeout = 0
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    ports.push((server.address() as AddressInfo).port)
  }
  return {
    info: { origin: `http://127.0.0.1:${ports[0]}`, tokenUrl: `http://127.0.0.1:${ports[1]}/token` },
    close: async () => {
      await Promise.all(servers.map(async (server) => {
        server.closeAllConnections()
        await new Promise((resolve) => server.close(resolve))
      }))
    }
  }
}

async function waitReady (origin: string, exited: () => boolean): Promise<void> {
  // Under valgrind a Node process starts in about a minute on a quiet machine; a busy one takes many times that.
  const deadline = performance.now() + READY_TIMEOUT_MS
  while (performance.now() < deadline) {
    if (exited()) throw new Error('the sidecar exited before it was ready')
    try {
      const res = await fetch(`${origin}/healthz`, { signal: AbortSignal.timeout(5000) })
      await res.arrayBuffer()
      if (res.ok) return
    } catch {}
    await new Promise((resolve) => setTimeout(resolve, 1000))
  }
  throw new Error(`the sidecar did not get ready within ${READY_TIMEOUT_MS / 1000} s`)
}

/** callgrind_control's answer for `pid`, once it has carried out `action` (-z, --dump=…). */
async function control (pid: number, action: string): Promise<void> {
  const { stdout } = await execFileAsync('callgrind_control', [action, String(pid)], { timeout: 300_000 })
  if (!/\bOK\b/.test(stdout)) throw new Error(`callgrind_control ${action} ${pid}: ${stdout}`)
}

/** The instructions counted in one dump of the process (`<outFile>.<part>`), once it is written whole. */
async function readDump (file: string): Promise<number> {
  const deadline = performance.now() + 120_000
  while (performance.now() < deadline) {
    let text = ''
    try { text = readFileSync(file, 'utf8') } catch {}
    const totals = /^totals:\s+(\d+)/m.exec(text)?.[1]
    if (totals !== undefined) return Number(totals)
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
  throw new Error(`no totals in ${file}`)
}

/**
 * One process of a tree under callgrind: `warm` requests, counters zeroed,
 * then `samples` times `count` requests, each followed by a dump. Returns
 * the instructions per request of each sample.
 */
async function measure (tree: BuiltTree, name: string, upstream: UpstreamInfo, warm: number, count: number, workDir: string): Promise<number[]> {
  const port = await freePort()
  const config = tollgateConfig(upstream) as { server: Record<string, unknown> }
  config.server = { ...config.server, port }
  // One file set per process: its dumps are <outFile>.1, .2, ...
  const run = `${name}-${++processes}`
  const configFile = join(workDir, `${run}.json`)
  const outFile = join(workDir, `${run}.callgrind`)
  writeFileSync(configFile, JSON.stringify(config))
  const started = performance.now()
  const child = spawn('valgrind', ['--tool=callgrind', '--trace-children=no', `--callgrind-out-file=${outFile}`, process.execPath, join(tree.outDir, 'src', 'cli.js'), '--config', configFile], { stdio: ['ignore', 'ignore', 'pipe'] })
  running = child
  let stderr = ''
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
  let done = false
  const exited = new Promise<void>((resolve) => child.once('exit', () => { done = true; resolve() }))
  const origin = `http://127.0.0.1:${port}`
  const perRequest: number[] = []
  try {
    await waitReady(origin, () => done)
    await load(origin, warm)
    const pid = child.pid as number
    await control(pid, '--zero')
    for (let sample = 1; sample <= samples; sample++) {
      await load(origin, count)
      await control(pid, `--dump=sample${sample}`)
      perRequest.push(await readDump(`${outFile}.${sample}`) / count)
    }
  } catch (err) {
    throw new Error(`${name}: ${(err as Error).message}\n${stderr.slice(-2000)}`)
  } finally {
    child.kill('SIGTERM')
    await exited
    running = undefined
  }
  log(`${name}: ${perRequest.map((x) => Math.round(x).toLocaleString('en')).join(', ')} Ir/request (${warm} requests to warm, then ${samples} × ${count}), ${((performance.now() - started) / 1000).toFixed(0)} s`)
  return perRequest
}

async function main (): Promise<void> {
  const cacheRoot = join(repoRoot, 'node_modules', '.cache', 'tollgate-callgrind', String(process.pid))
  process.once('exit', () => {
    running?.kill('SIGKILL')
    rmSync(cacheRoot, { recursive: true, force: true })
  })
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(1))
  mkdirSync(cacheRoot, { recursive: true })
  const built = await Promise.all(trees.map(async (t) => {
    const tree = await buildTree(t.dir, here, cacheRoot, t.name)
    // The CLI reads its version from the package.json beside src/ (src/cli/version.ts).
    copyFileSync(join(t.dir, 'package.json'), join(tree.outDir, 'package.json'))
    return { ...t, tree }
  }))
  const upstream = await startUpstream()
  const results = new Map<string, number[]>(built.map((t) => [t.name, []]))
  try {
    for (let round = 1; round <= repeat; round++) {
      for (const t of round % 2 === 1 ? built : [...built].reverse()) {
        results.get(t.name)?.push(...await measure(t.tree, t.name, upstream.info, counts[0] as number, (counts[1] as number) - (counts[0] as number), cacheRoot))
      }
    }
  } finally {
    await upstream.close()
  }
  const first = results.get(built[0]?.name ?? '') ?? []
  const median = (xs: readonly number[]): number => { const s = [...xs].sort((a, b) => a - b); return s.length === 0 ? NaN : ((s[(s.length - 1) >> 1] as number) + (s[s.length >> 1] as number)) / 2 }
  // The mean counts every sample's GC alike (a major GC lands in some samples, not others); the median leaves the spikes out.
  const mean = (xs: readonly number[]): number => xs.reduce((sum, x) => sum + x, 0) / xs.length
  const base = built[0]?.name
  const out = [`| tree | Ir/request per sample of ${(counts[1] as number) - (counts[0] as number)} requests (after ${counts[0]} to warm; ${connections} conns; ${samples} per process, ${repeat} process(es)) | median | vs ${base} | mean | vs ${base} |`, '|---|---|---:|---:|---:|---:|']
  for (const [name, xs] of results) {
    const cells = [median(xs), median(xs) / median(first), mean(xs), mean(xs) / mean(first)]
    out.push(`| ${name} | ${xs.map((x) => Math.round(x).toLocaleString('en')).join(', ')} | ${Math.round(cells[0] as number).toLocaleString('en')} | ${(cells[1] as number).toFixed(3)} | ${Math.round(cells[2] as number).toLocaleString('en')} | ${(cells[3] as number).toFixed(3)} |`)
  }
  process.stdout.write(`${out.join('\n')}\n`)
}

main().catch((err: unknown) => {
  process.stderr.write(`callgrind failed: ${(err as Error).stack ?? String(err)}\n`)
  process.exit(1)
})
