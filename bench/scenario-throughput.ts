/**
 * Throughput and latency, tollgate beside its floors: the direct path (load
 * straight at the upstream) and a bare @fastify/http-proxy. For each load
 * (small GET, 64 KiB POST) and connection count, every round runs each target
 * once, in turn (A B C A B C ...), so drift on a shared machine hits all of
 * them alike; ratios are taken within a round, then their median.
 *
 * autocannon keeps every connection busy, so at 10 and 100 connections each
 * target runs saturated and its latency is mostly queueing (connections /
 * throughput). Added latency is therefore also measured unsaturated: small
 * GETs at a fixed rate, well below what the slowest proxy managed, through an
 * open-loop generator (paced.ts) that loads all targets at once, paired
 * request by request, so a stall of the machine hits them alike.
 *
 * Alternating 3 s runs do not resolve a 10 % difference on this kind of
 * machine: the same process's CPU per request moves by half from one run to
 * the next. So throughput is also measured *paired*: every proxy saturated
 * at once, each by its own load process, all on the one CPU the placement
 * gives the measured process (cpu-placement.ts). The kernel then alternates
 * them every few ms, a slowdown of that CPU hits each alike, and the ratio
 * of their req/s is the ratio of their cost per request (two identical
 * tollgates: within 3 %, docs/benchmarks.md). Each paired round runs on
 * freshly started processes (runPairedRound says why).
 */
import type { LoadOptions } from './load.js'
import type { LoadResult } from './load-result.js'
import type { PacedOptions } from './paced.js'
import { cpus } from 'node:os'
import { epochNow } from './child-ipc.js'
import { machineBusyMs, procMemory, runJsonChild, type Child, type ProcMemory } from './proc.js'
import { POST_BYTES, PREFIX, type Bench, type LoadKind } from './setup.js'

/** Time for the load processes of a paired run to start: each is a new Node process that loads autocannon. */
const PAIRED_START_DELAY_MS = 1500
/**
 * A fresh process's warm-up before a paired round. Alone on its CPU, a fresh
 * tollgate at 10 connections cost 600, 250, then 155-170 µs per request in
 * successive 2 s slices. A fresh bare/tollgate pair sharing the CPU: their
 * ratio settled from the third 2 s slice, their absolute cost later.
 */
const PAIRED_WARMUP_S = 8

export interface Target {
  readonly name: string
  /** Base URL; the upstream's own paths follow it. */
  readonly base: string
  /** The proxy process, for its memory; none for the direct path. */
  readonly pid?: number
  mem? (): Promise<NodeJS.MemoryUsage>
  /** The proxy process's CPU time so far, µs. */
  cpu? (): Promise<number>
  /** Start another process of the same proxy, for the paired rounds (each round gets fresh ones). */
  fresh? (): Promise<StartedTarget>
}

export interface StartedTarget {
  readonly target: Target
  stop (): Promise<void>
}

export interface ThroughputRun {
  readonly load: LoadKind
  readonly connections: number
  readonly round: number
  readonly target: string
  readonly result: LoadResult
  /** CPU µs the proxy process spent per answered request during the run; NaN for the direct path. */
  readonly cpuPerRequest: number
  /**
   * Share of the machine's CPU that processes outside the benchmark used
   * during the run (0 to 1): how noisy the neighbours were at the time.
   */
  readonly foreignCpu: number
}

export interface PacedRun {
  readonly connections: number
  readonly round: number
  readonly target: string
  /** Requests per second offered. */
  readonly rate: number
  readonly result: LoadResult
}

export interface TargetMemory {
  readonly target: string
  /** Started, listening, nothing served yet. */
  readonly idle: ProcMemory
  /** The moment the last load stopped, nothing collected: about the peak. */
  readonly atEnd: ProcMemory
  /** After SETTLE_MS without load and a full GC: what the process keeps (see SETTLE_MS). */
  readonly proc: ProcMemory
  readonly heapUsed: number
}

/**
 * How long the proxies sit idle before "RSS after the run" is read. V8 keeps
 * the young generation it grew under load (about 30 MB at 100 connections)
 * until a collection at a low allocation rate gives it back: left alone, its
 * memory reducer did so 45-55 s after a burst (bare and tollgate alike); a
 * full GC forced within 5 s of the burst still kept it, because V8 judges the
 * rate over the last 5 s; forced after 10 s idle, it gave it back. So: wait,
 * then force, and read the state the process reaches by itself a minute on.
 */
const SETTLE_MS = 10_000

export interface ThroughputResult {
  /** One target at a time, in alternation. */
  readonly runs: ThroughputRun[]
  /** Every proxy at once (no direct path), same loads and rounds, connections from 10 up. */
  readonly paired: ThroughputRun[]
  readonly paced: PacedRun[]
  readonly memory: TargetMemory[]
}

export function loadOptions (base: string, load: LoadKind, connections: number, durationS: number): LoadOptions {
  return load === 'get'
    ? { url: `${base}/small`, connections, durationS, method: 'GET' }
    : { url: `${base}/ingest`, connections, durationS, method: 'POST', bodyBytes: POST_BYTES }
}

export async function runLoad (bench: Bench, options: LoadOptions): Promise<LoadResult> {
  return await runJsonChild<LoadResult>(bench.main.outDir, 'load', options, options.durationS * 1000 + 30_000)
}

export function proxyTarget (name: string, child: Child<{ url: string }>, start?: () => Promise<Child<{ url: string }>>): Target {
  return {
    name,
    base: `${child.ready.url}${PREFIX}`,
    pid: child.pid,
    mem: async () => await child.call<NodeJS.MemoryUsage>('mem', { gc: true }),
    cpu: async () => await child.call<number>('cpu'),
    ...(start === undefined
      ? {}
      : {
          fresh: async () => {
            const another = await start()
            return { target: proxyTarget(name, another), stop: async () => { await another.stop() } }
          }
        })
  }
}

export async function runThroughput (bench: Bench, targets: readonly Target[], progress: (line: string) => void): Promise<ThroughputResult> {
  const { loads, connections, rounds, durationS, warmupS } = bench.settings
  const idle = new Map(targets.flatMap((t) => t.pid === undefined ? [] : [[t.name, procMemory(t.pid)] as const]))
  // JIT, pools and the first token: nothing of that belongs in a measured run (quick mode skips it).
  for (const load of warmupS > 0 ? loads : []) {
    for (const target of targets) await runLoad(bench, loadOptions(target.base, load, 10, warmupS))
  }
  const runs: ThroughputRun[] = []
  const paired: ThroughputRun[] = []
  const proxies = targets.filter((t) => t.pid !== undefined)
  for (const load of loads) {
    for (const conns of connections) {
      for (let round = 1; round <= rounds; round++) {
        // A B C, then C B A: a machine that speeds up or slows down during a round favours no target.
        for (const target of round % 2 === 1 ? targets : [...targets].reverse()) {
          const cpuBefore = await target.cpu?.()
          const upstreamBefore = await bench.upstream.call<number>('cpu')
          const machineBefore = machineBusyMs()
          const harnessBefore = process.cpuUsage()
          const t0 = performance.now()
          const result = await runLoad(bench, loadOptions(target.base, load, conns, durationS))
          const elapsedMs = performance.now() - t0
          const machineMs = machineBusyMs() - machineBefore
          const upstreamUs = await bench.upstream.call<number>('cpu') - upstreamBefore
          const cpuAfter = await target.cpu?.()
          const proxyUs = cpuBefore === undefined || cpuAfter === undefined ? NaN : cpuAfter - cpuBefore
          const cpuPerRequest = proxyUs / Math.max(1, result.ok)
          const harness = process.cpuUsage(harnessBefore)
          const oursMs = ((Number.isNaN(proxyUs) ? 0 : proxyUs) + upstreamUs + result.cpuUs + harness.user + harness.system) / 1000
          // /proc/stat counts every CPU of the machine; availableParallelism() would count only the harness's own (pinned).
          const foreignCpu = Math.max(0, machineMs - oursMs) / (elapsedMs * cpus().length)
          runs.push({ load, connections: conns, round, target: target.name, result, cpuPerRequest, foreignCpu })
          progress(`${load} c=${conns} round ${round}/${rounds} ${target.name}: ${Math.round(result.rps)} req/s, p99 ${msText(result.p99)} ms${Number.isNaN(cpuPerRequest) ? '' : `, ${cpuPerRequest.toFixed(0)} µs CPU/req`}, others ${(100 * foreignCpu).toFixed(0)} % CPU${result.non2xx + result.errors > 0 ? `, ${result.non2xx} non-2xx, ${result.errors} errors` : ''}`)
        }
      }
      for (let round = 1; round <= (proxies.length > 1 && conns >= 10 ? rounds : 0); round++) {
        paired.push(...await runPairedRound(bench, proxies, load, conns, round, progress))
      }
    }
  }
  const paced: PacedRun[] = []
  for (const conns of loads.includes('get') ? connections.filter((c) => c >= 10) : []) {
    const rate = pacedRate(runs, conns, targets)
    for (let round = 1; round <= rounds; round++) {
      // All targets at once, paired request by request (paced.ts): their differences survive a noisy machine.
      // Twice the saturated run's length: a p99 wants a few thousand samples per target, not a few hundred.
      const options: PacedOptions = { urls: targets.map((target) => `${target.base}/small`), connections: conns, rate, durationS: durationS * 2 }
      const results = await runJsonChild<LoadResult[]>(bench.main.outDir, 'paced', options, options.durationS * 1000 + 30_000)
      targets.forEach((target, i) => {
        const result = results[i] as LoadResult
        paced.push({ connections: conns, round, target: target.name, rate, result })
        progress(`paced GET ${rate} req/s each, c=${conns} round ${round}/${rounds} ${target.name}: p50 ${msText(result.p50)} ms, p99 ${msText(result.p99)} ms${result.non2xx > 0 ? `, ${result.non2xx} failed` : ''}`)
      })
    }
  }
  const measured = targets.filter((t) => t.pid !== undefined && t.mem !== undefined)
  const atEnd = new Map(measured.map((t) => [t.name, procMemory(t.pid as number)] as const))
  if (measured.length > 0) await new Promise((resolve) => setTimeout(resolve, bench.settings.quick ? 0 : SETTLE_MS))
  const memory: TargetMemory[] = []
  for (const target of measured) {
    const pid = target.pid as number
    const usage = await target.mem?.() as NodeJS.MemoryUsage
    memory.push({ target: target.name, idle: idle.get(target.name) ?? procMemory(pid), atEnd: atEnd.get(target.name) ?? procMemory(pid), proc: procMemory(pid), heapUsed: usage.heapUsed })
  }
  return { runs, paired, paced, memory }
}

/**
 * One paired round: every proxy saturated at once, each by its own load
 * process. Each round starts fresh processes where it can: two processes of
 * the same tollgate, warmed alike, differed by up to 15 % in cost per
 * request for as long as they ran (V8's optimisation decisions depend on
 * timing), so one process per target would carry its luck into every round.
 */
async function runPairedRound (bench: Bench, proxies: readonly Target[], load: LoadKind, conns: number, round: number, progress: (line: string) => void): Promise<ThroughputRun[]> {
  // Started in a rotating order, so no proxy is always the first to be loaded.
  const rotated = proxies.map((_, i) => proxies[(i + round - 1) % proxies.length] as Target)
  const started = await Promise.all(rotated.map(async (target): Promise<StartedTarget> => await target.fresh?.() ?? { target, stop: async () => {} }))
  try {
    const order = started.map((s) => s.target)
    const loaded = await loadTogether(bench, order, (target, seconds) => loadOptions(target.base, load, conns, seconds))
    return loaded.map(({ target, result, cpuPerRequest }) => {
      progress(`${load} c=${conns} paired round ${round} ${target.name}: ${Math.round(result.rps)} req/s, ${cpuPerRequest.toFixed(0)} µs CPU/req${result.non2xx + result.errors > 0 ? `, ${result.non2xx} non-2xx, ${result.errors} errors` : ''}`)
      return { load, connections: conns, round, target: target.name, result, cpuPerRequest, foreignCpu: NaN }
    })
  } finally {
    await Promise.all(started.map(async (s) => { await s.stop() }))
  }
}

export interface LoadedTogether {
  readonly target: Target
  readonly result: LoadResult
  /** CPU µs the target's process spent per answered request during the measured run. */
  readonly cpuPerRequest: number
}

/**
 * Every target saturated at once, each by its own load process (`options`
 * says which requests), first for the paired warm-up, then for the measured
 * run: the core of a paired round, for any load.
 */
export async function loadTogether (bench: Bench, order: readonly Target[], options: (target: Target, seconds: number) => LoadOptions): Promise<LoadedTogether[]> {
  const { durationS, warmupS } = bench.settings
  // Forked together, started together: a load that started first would have the CPU to itself for a moment.
  const together = async (seconds: number): Promise<LoadResult[]> => {
    const startAt = epochNow() + PAIRED_START_DELAY_MS
    return await Promise.all(order.map(async (target) => await runLoad(bench, { ...options(target, seconds), startAt })))
  }
  if (warmupS > 0) await together(PAIRED_WARMUP_S)
  const cpuBefore = await Promise.all(order.map(async (target) => await target.cpu?.()))
  const results = await together(durationS)
  const cpuAfter = await Promise.all(order.map(async (target) => await target.cpu?.()))
  return order.map((target, i) => {
    const result = results[i] as LoadResult
    return { target, result, cpuPerRequest: ((cpuAfter[i] ?? NaN) - (cpuBefore[i] ?? NaN)) / Math.max(1, result.ok) }
  })
}

/**
 * Per target, a quarter of the GET throughput of the slowest proxy at these
 * connections (median over rounds) shared among the proxies loaded at once,
 * in steps of 50 req/s: unsaturated even when the neighbours get noisier.
 */
function pacedRate (runs: readonly ThroughputRun[], connections: number, targets: readonly Target[]): number {
  const proxies = targets.filter((t) => t.pid !== undefined).map((t) => t.name)
  const medians = proxies.map((name) => {
    const rps = runs.filter((r) => r.load === 'get' && r.connections === connections && r.target === name).map((r) => r.result.rps).sort((a, b) => a - b)
    return rps[(rps.length - 1) >> 1] ?? 100
  })
  return Math.max(50, Math.floor(Math.min(...medians) / 4 / proxies.length / 50) * 50)
}

/** A latency for a progress line: a round with no 2xx answer has none (NaN, which arrives as null over IPC). */
function msText (ms: number | null): string {
  return ms === null || Number.isNaN(ms) ? 'n/a' : ms.toFixed(2)
}
