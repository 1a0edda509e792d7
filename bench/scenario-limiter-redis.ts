/**
 * The shared limiter across replicas (issue 14): three tollgate processes on
 * one private redis-server, one upstream with `rateLimit: N per W`, each
 * tollgate driven past N / 3 per window by its own closed-loop load, and one
 * Redis outage mid-run (SIGSTOP for a few seconds, then SIGCONT: the
 * replicas time out, fall back to their local windows, reconnect and write
 * back what they started alone). Two limits: N = 200 per 1 s, and
 * N = 100,000 per 60 s, where the point is that Redis' work and memory do
 * not grow with N.
 *
 * Judged, per case:
 * - the upstream's recording (one clock: the upstream's): no window of W
 *   with none of its arrivals in the outage holds more than N; outage windows
 *   apart, against what docs/scaling.md promises for them (each replica
 *   at its share: all together at most N); limiter-redis-stats.ts says exactly
 *   what is counted;
 * - N used: arrivals over N per whole window, outside the outage and the
 *   window after it (the replicas' write-back over-fills the shared window
 *   then, by design), ≥ 0.98;
 * - SLOWLOG: the longest script run (EVAL/EVALSHA/FCALL), ≤ 1 ms, every
 *   command logged (slowlog-log-slower-than 0) from the start of the load;
 * - MEMORY USAGE (SAMPLES 0) of every key of the upstream, summed, ≤ 64 KiB:
 *   sampled during the load and once just before it ends, the largest taken.
 *
 * Where it runs: the three tollgates share the measured CPU; redis-server,
 * the upstream, the load generators and the harness the others
 * (cpu-placement.ts). Loopback only.
 */
import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import type { BuiltTree } from './build.js'
import { epochNow } from './child-ipc.js'
import { maxInAnyWindow } from '../test/helpers/window.js'
import { maxPerTag, outageWindowCheck, perWindow, scriptNames, summariseSlowlog, type SlowlogSummary, type Span, type Used, usedFraction, usedSegments } from './limiter-redis-stats.js'
import { runJsonChild, procCpuMs } from './proc.js'
import { redisServerBinary, startBenchRedis, type BenchRedis } from './redis-server.js'
import type { LoadOptions } from './load.js'
import type { LoadResult } from './load-result.js'
import { startTollgate, type Bench, type TargetStatus, type TollgateChild } from './setup.js'

export const REPLICAS = 3
const UPSTREAM = 'bench'
const KEY_PREFIX = 'tollgate:'
/** Every key of the upstream carries its hash tag (docs/scaling.md: one Cluster slot per upstream). */
const KEY_PATTERN = `${KEY_PREFIX}*{${UPSTREAM}}*`
/**
 * Load processes are told when to start: this far ahead, so that all three
 * have started node and autocannon by then (about 1 s on this machine when
 * its other tenants are busy), and the outage and the memory samples, timed
 * from that moment, fall where they should.
 */
const LOAD_LEAD_MS = 2500
const QUICK_LOAD_LEAD_MS = 1500
/** x-bench-tag of the warm-up load (the measured load's is the replica's index). */
const WARM_TAG = 100
/**
 * tollgate's default store.commandTimeout: a command sent before the SIGCONT
 * is answered or given up on (and its request decided on the local window)
 * within this long after it.
 */
const COMMAND_TIMEOUT_MS = 1000
/** After that: arrivals started alone just before may still be on the wire. */
const RESYNC_SLACK_MS = 50

export interface LimiterRedisCase {
  readonly requests: number
  readonly windowMs: number
  /** Load per replica: closed loop, so this many requests always wait at each tollgate. */
  readonly connections: number
  readonly durationS: number
  /** From the start of the load. */
  readonly outageAtS: number
  readonly outageS: number
  /** MEMORY USAGE sampled this often during the load (and once just before it ends). */
  readonly memoryEveryS: number
}

export function limiterRedisCases (quick: boolean): LimiterRedisCase[] {
  return quick
    ? [
        { requests: 200, windowMs: 1000, connections: 20, durationS: 2.5, outageAtS: 1, outageS: 0.5, memoryEveryS: 1 },
        { requests: 100_000, windowMs: 60_000, connections: 50, durationS: 2.5, outageAtS: 1, outageS: 0.5, memoryEveryS: 1 }
      ]
    : [
        // ~10 windows: 5 before the outage, 2.5 s of outage, one window of write-back, ~5 after.
        { requests: 200, windowMs: 1000, connections: 50, durationS: 14, outageAtS: 5, outageS: 2.5, memoryEveryS: 2 },
        // One whole window before the outage (the first 60 s), then the outage, then half a window more.
        { requests: 100_000, windowMs: 60_000, connections: 100, durationS: 95, outageAtS: 70, outageS: 2.5, memoryEveryS: 10 }
      ]
}

export interface ReplicaFigures {
  readonly tag: number
  readonly arrivals: number
  /** Most of this replica's own arrivals in any window (outage or not). */
  readonly maxInWindow: number
  readonly clientOk: number
  /** Non-2xx answers and errors (autocannon counts its 10 s timeouts among the errors). */
  readonly clientFailed: number
  readonly clientTimeouts: number
  readonly clientP50: number
  readonly clientP99: number
  readonly started: number
  readonly rejected: number
  /** When it was first seen without Redis and sharing again, ms after the stop (undefined: never seen lost). */
  readonly lostAfterMs: number | undefined
  readonly backAfterMs: number | undefined
  readonly outages: number | undefined
  readonly cpuMsPerArrival: number
}

export interface MemorySample {
  /** ms from the start of the load. */
  readonly atMs: number
  readonly keys: number
  readonly bytes: number
  readonly largest: { readonly key: string, readonly bytes: number } | undefined
  /**
   * Units held pending in Redis (taken, not yet answered: the `…:pending` key's
   * members, or the sum of its counts), read with the last sample only. With
   * answers in under a millisecond, a few at most; more are units taken for
   * requests that will never be answered, held until their hold ends.
   */
  readonly pendingUnits?: number | undefined
}

export interface LimiterRedisRun {
  /** Which tree: tollgate (this checkout) or candidate. */
  readonly tree: string
  readonly redisVersion: string
  readonly redisScheduling: string
  readonly requests: number
  readonly windowMs: number
  readonly replicas: number
  readonly connections: number
  readonly durationS: number
  readonly arrivals: number
  /** The first arrival, ms after the load was due to start (a late start moves the outage and the samples later in the run). */
  readonly firstArrivalMs: number
  readonly firstArrivalEpochMs: number
  /** Most arrivals in any 1 s before the outage: what the machine carried at best (after it, the queued backlog goes at once). */
  readonly peakPerSecond: number
  /** Outage, ms from the first arrival: Redis stopped, continued, the last replica seen sharing again (+ slack). */
  readonly outage: { readonly stopMs: number, readonly resumeMs: number, readonly spanEndMs: number } | undefined
  readonly violations: number
  readonly maxOutside: number
  readonly maxInside: number
  /** N used outside the outage (judged), and its two parts: before the outage, and from one window after it. */
  readonly used: Used
  readonly usedBefore: Used
  readonly usedAfter: Used
  /** Arrivals per window from the first arrival (whole windows only). */
  readonly perWindow: readonly number[]
  readonly replicaFigures: readonly ReplicaFigures[]
  readonly slowlog: SlowlogSummary
  readonly memory: readonly MemorySample[]
  /** The sample just before the load ended. */
  readonly memoryAtEnd: MemorySample | undefined
  /** CPU µs per arrival of each kind of process, all of them together: where a CPU-bound run spent it. */
  readonly cpuUsPerArrival: { readonly tollgates: number, readonly redis: number, readonly upstream: number, readonly load: number }
  /** Wall time of the load, s (the slowest of the three). */
  readonly loadS: number
}

export interface LimiterRedisResult {
  /** Why it did not run (no redis-server), or undefined. */
  readonly skipped?: string
  readonly runs: readonly LimiterRedisRun[]
}

type Progress = (line: string) => void

export async function runLimiterRedis (bench: Bench, progress: Progress): Promise<LimiterRedisResult> {
  const binary = redisServerBinary()
  if (binary === undefined) return { skipped: 'redis-server not found ($REDIS_SERVER, /usr/bin, /usr/local/bin, PATH)', runs: [] }
  const trees: Array<{ name: string, tree: BuiltTree, execArgv: readonly string[] }> = [
    { name: 'tollgate', tree: bench.main, execArgv: [] },
    ...(bench.candidate === undefined ? [] : [{ name: 'candidate', tree: bench.candidate.tree, execArgv: bench.candidate.execArgv }])
  ]
  const runs: LimiterRedisRun[] = []
  for (const c of limiterRedisCases(bench.settings.quick)) {
    for (const t of trees) {
      progress(`limiter-redis: ${t.name}, N = ${c.requests} per ${c.windowMs / 1000} s, ${REPLICAS} replicas, ${c.durationS} s of load, Redis stopped at ${c.outageAtS} s for ${c.outageS} s`)
      runs.push(await runCase(bench, binary, c, t, progress))
    }
  }
  return { runs }
}

function configFor (redisUrl: string, origin: string, c: LimiterRedisCase): Record<string, unknown> {
  return {
    server: { host: '127.0.0.1', port: 0 },
    log: { level: 'info' },
    store: { type: 'redis', url: redisUrl, keyPrefix: KEY_PREFIX, onUnavailable: 'local' },
    upstreams: {
      // First: bench/tollgate.ts reports the first upstream's limiter.
      [UPSTREAM]: {
        prefix: '/bench',
        target: origin,
        auth: { type: 'none' },
        // Room for every connection's request to wait, and for as long as the run.
        rateLimit: { requests: c.requests, window: `${c.windowMs}ms`, maxQueue: 100_000, maxWait: '10m' }
      },
      // No rateLimit: warms each process up (JIT, sockets) without spending the window or touching Redis.
      warm: { prefix: '/warm', target: origin, auth: { type: 'none' } }
    }
  }
}

/** The Lua texts the tree defines (every string export of src/store/*scripts.js), by sha1, for naming SLOWLOG entries. */
async function scriptNamesOf (tree: BuiltTree): Promise<Map<string, string>> {
  const dir = join(tree.outDir, 'src', 'store')
  const out = new Map<string, string>()
  try {
    for (const file of await readdir(dir)) {
      if (!file.endsWith('scripts.js')) continue
      const module = await import(join(dir, file)) as Record<string, unknown>
      for (const [sha, name] of scriptNames(module)) out.set(sha, name)
    }
  } catch {}
  return out
}

interface StoreStatusLike { readonly available: boolean, readonly outages: number }
type Status = TargetStatus & { readonly store?: StoreStatusLike }

async function runCase (bench: Bench, binary: string, c: LimiterRedisCase, t: { name: string, tree: BuiltTree, execArgv: readonly string[] }, progress: Progress): Promise<LimiterRedisRun> {
  const upstream = bench.upstream
  const redis = await startBenchRedis(binary)
  const tollgates: TollgateChild[] = []
  try {
    const config = configFor(redis.url, upstream.ready.origin, c)
    tollgates.push(...await Promise.all(Array.from({ length: REPLICAS }, async () =>
      await startTollgate(bench, config, { tree: t.tree, execArgv: t.execArgv }))))
    const load = (url: string, durationS: number, tag: number, startAt: number): Promise<LoadResult> => {
      const options: LoadOptions = { url, connections: c.connections, durationS, method: 'GET', startAt, headers: { 'x-bench-tag': String(tag) } }
      return runJsonChild<LoadResult>(bench.main.outDir, 'load', options, durationS * 1000 + 60_000)
    }
    const warmS = bench.settings.quick ? 0.3 : 2
    const leadMs = bench.settings.quick ? QUICK_LOAD_LEAD_MS : LOAD_LEAD_MS
    const warmAt = epochNow() + leadMs
    // Tagged apart (WARM_TAG + i): a warm-up request still on its way when the recording starts is not counted.
    await Promise.all(tollgates.map(async (tg, i) => await load(`${tg.ready.url}/warm/small`, warmS, WARM_TAG + i, warmAt)))

    const names = await scriptNamesOf(t.tree)
    await redis.startSlowlog()
    await upstream.call('record', { on: true })
    const cpuBefore = { redis: procCpuMs(redis.pid), upstream: procCpuMs(upstream.pid), tollgates: tollgates.map((tg) => procCpuMs(tg.pid)) }
    const startAt = epochNow() + leadMs
    const loads = Promise.all(tollgates.map(async (tg, i) => await load(`${tg.ready.url}/bench/small`, c.durationS, i, startAt)))

    const endAt = startAt + c.durationS * 1000
    const memory: MemorySample[] = []
    let stopped = false
    const sampleMemory = async (last = false): Promise<MemorySample> => {
      const atMs = epochNow() - startAt
      const keys = await redis.memoryOf(KEY_PATTERN)
      const largest = keys.reduce<{ key: string, bytes: number } | undefined>((big, k) => big === undefined || k.bytes > big.bytes ? k : big, undefined)
      const pending = last ? keys.find((k) => k.key.endsWith(':pending')) : undefined
      const sample = { atMs, keys: keys.length, bytes: keys.reduce((sum, k) => sum + k.bytes, 0), largest, ...(pending === undefined ? {} : { pendingUnits: await redis.unitsIn(pending.key) }) }
      memory.push(sample)
      return sample
    }
    const sampler = (async () => {
      for (let at = startAt + c.memoryEveryS * 1000; at < endAt - 1000; at += c.memoryEveryS * 1000) {
        await sleep(Math.max(0, at - epochNow()))
        if (!stopped) await sampleMemory()
      }
      await sleep(Math.max(0, endAt - 500 - epochNow()))
      return await sampleMemory(true)
    })()
    const outage = (async () => {
      await sleep(Math.max(0, startAt + c.outageAtS * 1000 - epochNow()))
      return await stopAndResume(redis, tollgates, c.outageS * 1000, (on) => { stopped = on })
    })()

    const [results, seen, memoryAtEnd] = await Promise.all([loads, outage, sampler])
    const cpuMs = { redis: procCpuMs(redis.pid) - cpuBefore.redis, upstream: procCpuMs(upstream.pid) - cpuBefore.upstream, tollgates: tollgates.map((tg, i) => procCpuMs(tg.pid) - (cpuBefore.tollgates[i] as number)) }
    await upstream.call('record', { on: false })
    const recorded = [...await upstream.call<Float64Array>('starts')]
    const recordedTags = [...await upstream.call<Int32Array>('tags')]
    const measured = recordedTags.map((tag) => tag >= 0 && tag < REPLICAS)
    const starts = recorded.filter((_, i) => measured[i] === true)
    const tags = recordedTags.filter((_, i) => measured[i] === true)
    const entries = await redis.endSlowlog()
    const statuses = await Promise.all(tollgates.map(async (tg) => await tg.call<Status>('status')))

    const first = starts.reduce((a, b) => Math.min(a, b), Infinity)
    const last = starts.reduce((a, b) => Math.max(a, b), -Infinity)
    if (!(first - startAt < 1000)) progress(`WARNING: the load started ${Math.round(first - startAt)} ms late: the outage and the memory samples came that much earlier in it`)
    const backs = seen.replicas.map((r) => r.backAt ?? seen.resumeAt)
    const span: Span = { from: seen.stopAt, to: Math.max(seen.resumeAt + COMMAND_TIMEOUT_MS, ...backs) + RESYNC_SLACK_MS }
    const check = outageWindowCheck(starts, c.requests, c.windowMs, span)
    const segments = usedSegments(starts, c.windowMs, span)
    const used = usedFraction(starts, c.requests, c.windowMs, segments)
    const usedBefore = usedFraction(starts, c.requests, c.windowMs, segments.filter((x) => x.to <= span.from))
    const usedAfter = usedFraction(starts, c.requests, c.windowMs, segments.filter((x) => x.from >= span.to))
    const perTag = maxPerTag(starts, tags, c.windowMs)
    const stopMicros = (seen.resumeAt - seen.stopAt) * 1000
    return {
      tree: t.name,
      redisVersion: redis.version,
      redisScheduling: redis.scheduling,
      requests: c.requests,
      windowMs: c.windowMs,
      replicas: REPLICAS,
      connections: c.connections,
      durationS: c.durationS,
      arrivals: starts.length,
      firstArrivalMs: first - startAt,
      firstArrivalEpochMs: first,
      peakPerSecond: maxInAnyWindow(starts.filter((at) => at < span.from), 1000),
      outage: { stopMs: seen.stopAt - first, resumeMs: seen.resumeAt - first, spanEndMs: span.to - first },
      violations: check.violations,
      maxOutside: check.maxOutside,
      maxInside: check.maxInside,
      used,
      usedBefore,
      usedAfter,
      perWindow: Number.isFinite(first) ? perWindow(starts, c.windowMs, first, last) : [],
      replicaFigures: tollgates.map((_, i) => {
        const r = results[i] as LoadResult
        const s = statuses[i] as Status
        const own = seen.replicas[i]
        const arrivals = tags.filter((tag) => tag === i).length
        return {
          tag: i,
          arrivals,
          maxInWindow: perTag.get(i) ?? 0,
          clientOk: r.ok,
          clientFailed: r.non2xx + r.errors,
          clientTimeouts: r.timeouts,
          clientP50: r.p50,
          clientP99: r.p99,
          started: s.limiter.counters.started,
          rejected: s.limiter.counters.rejected,
          lostAfterMs: own?.lostAt === undefined ? undefined : own.lostAt - seen.stopAt,
          backAfterMs: own?.backAt === undefined ? undefined : own.backAt - seen.stopAt,
          outages: s.store?.outages,
          cpuMsPerArrival: (cpuMs.tollgates[i] as number) / Math.max(1, arrivals)
        }
      }),
      slowlog: summariseSlowlog(entries, names, stopMicros),
      memory,
      memoryAtEnd,
      cpuUsPerArrival: {
        tollgates: 1000 * cpuMs.tollgates.reduce((a, b) => a + b, 0) / Math.max(1, starts.length),
        redis: 1000 * cpuMs.redis / Math.max(1, starts.length),
        upstream: 1000 * cpuMs.upstream / Math.max(1, starts.length),
        load: results.reduce((sum, r) => sum + r.cpuUs, 0) / Math.max(1, starts.length)
      },
      loadS: Math.max(...results.map((r) => r.elapsedMs)) / 1000
    }
  } finally {
    await upstream.call('record', { on: false }).catch(() => {})
    await Promise.all(tollgates.map(async (tg) => await tg.stop()))
    await redis.close()
  }
}

interface OutageSeen {
  readonly stopAt: number
  readonly resumeAt: number
  /** Per replica: first seen without Redis, then first seen sharing again after that (epoch ms). */
  readonly replicas: ReadonlyArray<{ lostAt: number | undefined, backAt: number | undefined }>
}

/**
 * SIGSTOP, wait, SIGCONT; meanwhile and after, ask each replica every 25 ms
 * whether it shares through Redis, until every one that lost it has it
 * again (at most 15 s after the SIGCONT).
 */
async function stopAndResume (redis: BenchRedis, tollgates: readonly TollgateChild[], outageMs: number, stopped: (on: boolean) => void): Promise<OutageSeen> {
  const replicas = tollgates.map(() => ({ lostAt: undefined as number | undefined, backAt: undefined as number | undefined }))
  stopped(true)
  const stopAt = epochNow()
  redis.stop()
  let resumeAt: number | undefined
  const resumed = sleep(outageMs).then(() => {
    redis.resume()
    resumeAt = epochNow()
    stopped(false)
  })
  const watch = (async () => {
    while (true) {
      const now = epochNow()
      const statuses = await Promise.all(tollgates.map(async (tg) => await tg.call<Status>('status')))
      statuses.forEach((s, i) => {
        const r = replicas[i] as { lostAt: number | undefined, backAt: number | undefined }
        if (s.store === undefined) return
        if (!s.store.available && r.lostAt === undefined) r.lostAt = now
        if (s.store.available && r.lostAt !== undefined && r.backAt === undefined) r.backAt = now
      })
      if (resumeAt !== undefined) {
        const settled = replicas.every((r) => r.lostAt === undefined || r.backAt !== undefined)
        // A replica that had not noticed the outage by the SIGCONT never will (its commands were only slow).
        if (settled || now > resumeAt + 15_000) return
      }
      await sleep(25)
    }
  })()
  await Promise.all([resumed, watch])
  return { stopAt, resumeAt: resumeAt as number, replicas }
}
