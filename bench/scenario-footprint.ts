/**
 * What a sidecar costs next to every replica (issue 18): tollgate as the
 * image and the Kubernetes example run it (footprint-image.ts) beside the
 * bare proxy, fresh processes each round, started one after the other (who
 * goes first alternates) and then observed side by side:
 * - ready: spawn → the first proxied 200 (tollgate's includes its first token fetch),
 *   and the CPU the process had used by then;
 * - RSS 30 s and 60 s after that 200, nothing forced (no GC), both alike;
 * - CPU while idle, 30 s → 60 s: every thread's time on a CPU and how often
 *   one was woken (/proc/PID/task/<tid>/schedstat), with a /metrics scrape
 *   every 15 s from the first 200 on, to both (the bare proxy answers 404);
 * - RSS 10 s after a short load (3,000 GETs over 10 connections);
 * - at a paced 1,000 requests/s, each loaded alone in turns of a second,
 *   10 s each (paced.ts): CPU per 1,000 req/s, RSS, and p50/p90/p99; added
 *   latency is judged within the run. Turns, not all at once: at once, the
 *   proxies on the measured CPU queued behind each other's work, and p90s
 *   of 15-35 ms measured the pairing (docs/benchmarks.md, "Footprint"). A
 *   paced run that fails (a machine too busy to answer) is reported as
 *   such, not a reason to drop the idle figures.
 * The config is config/halaxy.yaml pointed at the bench upstream, its client
 * secret a `${file:}` secret, info logs; a second tollgate runs the same with
 * `store.type: redis` when redis-server is installed. The rate limit is
 * raised (the preset's 500 per minute would queue the load): the limiter
 * still runs for every request.
 */
import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Pool } from 'undici'
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml'
import { freePort } from '../test/helpers/ports.js'
import { imageNode, prepareLayout, type ImageNode, type Layout } from './footprint-image.js'
import { PATH, sched, sleep, start, status, stop, type FootprintTarget, type Proxy, type Sched, type Spec } from './footprint-process.js'
import type { LoadResult } from './load-result.js'
import { procMemory, runJsonChild } from './proc.js'
import { redisServerBinary, startBenchRedis, type BenchRedis } from './redis-server.js'
import type { Bench, UpstreamInfo } from './setup.js'

export type { FootprintTarget }

export interface FootprintTiming {
  /** Seconds after the first 200 at which RSS is read; the idle CPU window runs between them. */
  readonly idleAtS: readonly [number, number]
  readonly scrapeEveryS: number
  readonly loadRequests: number
  readonly settleS: number
  readonly pacedRate: number
  /** Each proxy's loaded time at `pacedRate`, in turns of `pacedSliceMs`. */
  readonly pacedS: number
  readonly pacedSliceMs: number
}

export interface FootprintRun {
  readonly round: number
  readonly target: FootprintTarget
  readonly readyMs: number
  readonly readyCpuMs: number
  readonly rssIdle: readonly [number, number]
  /** CPU ms and wake-ups (time slices begun) of all threads in the idle window; the part the scrapes in it took. */
  readonly idle: { readonly cpuMs: number, readonly wakeups: number, readonly scrapeCpuMs: number, readonly windowS: number, readonly threads: number }
  readonly rssAfterLoad: number
  /** At 1,000 req/s; for tollgate, `bare` is the bare proxy's result in the same pair. Absent when the paced run failed. */
  readonly paced?: { readonly cpuMs: number, readonly rss: number, readonly result: LoadResult, readonly bare?: LoadResult }
  readonly pacedError?: string
}

export interface FootprintResult {
  readonly node: ImageNode
  readonly timing: FootprintTiming
  /** Each target's command line, environment first. */
  readonly commands: Readonly<Partial<Record<FootprintTarget, string>>>
  readonly runs: FootprintRun[]
  readonly redisSkipped?: string
}

/** From the first 200 to the end of the idle window: scrapes every scrapeEveryS, RSS at both ends, CPU between. */
async function observeIdle (proxy: Proxy, timing: FootprintTiming): Promise<Pick<FootprintRun, 'rssIdle' | 'idle'>> {
  const pid = proxy.child.pid as number
  const [fromS, toS] = timing.idleAtS
  const events = new Set<number>([fromS, toS])
  for (let s = timing.scrapeEveryS; s < toS; s += timing.scrapeEveryS) events.add(s)
  let rssFrom = NaN
  let from: Sched | undefined
  let scrapeNs = 0
  for (const at of [...events].sort((a, b) => a - b)) {
    await sleep(proxy.readyAt + at * 1000 - performance.now())
    // At the window's ends, RSS and CPU are read before that moment's scrape.
    if (at === fromS) {
      rssFrom = procMemory(pid).rss
      from = sched(pid)
    }
    if (at === toS) {
      const to = sched(pid)
      const f = from as Sched
      return {
        rssIdle: [rssFrom, procMemory(pid).rss],
        idle: { cpuMs: (to.cpuNs - f.cpuNs) / 1e6, wakeups: to.slices - f.slices, scrapeCpuMs: scrapeNs / 1e6, windowS: toS - fromS, threads: to.threads }
      }
    }
    const before = sched(pid).cpuNs
    await status(proxy.port, '/metrics')
    // What the process spent while it answered the scrape, counted when inside the window.
    if (at >= fromS) scrapeNs += sched(pid).cpuNs - before
  }
  throw new Error('unreachable')
}

/** `requests` GETs over 10 keep-alive connections, every one a 200. */
async function load (proxy: Proxy, requests: number): Promise<void> {
  const pool = new Pool(`http://127.0.0.1:${proxy.port}`, { connections: 10, pipelining: 1 })
  let next = 0
  let failed = 0
  await Promise.all(Array.from({ length: 10 }, async () => {
    while (next++ < requests) {
      const res = await pool.request({ path: PATH, method: 'GET' })
      await res.body.dump()
      if (res.statusCode !== 200) failed++
    }
  }))
  await pool.close()
  if (failed > 0) throw new Error(`footprint: ${failed} of ${requests} GETs through ${proxy.target} failed`)
}

/** config/halaxy.yaml as the image has it, pointed at the bench upstream; its client secret a `${file:}`. */
function footprintConfig (layout: Layout, upstream: UpstreamInfo, port: number, redis: BenchRedis | undefined): string {
  const raw = parseYaml(readFileSync(join(layout.app, 'config', 'halaxy.yaml'), 'utf8')) as { upstreams: { halaxy: Record<string, unknown> & { auth: Record<string, unknown> } } }
  const halaxy = raw.upstreams.halaxy
  const dir = join(layout.app, 'footprint')
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, 'halaxy-client-secret'), 'footprint-client-secret\n', { mode: 0o600 })
  const config = {
    server: { host: '127.0.0.1', port },
    log: { level: 'info' },
    ...(redis === undefined ? {} : { store: { type: 'redis', url: redis.url } }),
    upstreams: {
      halaxy: {
        ...halaxy,
        target: upstream.origin,
        // eslint-disable-next-line no-template-curly-in-string -- tollgate's own ${file:} reference, read by the sidecar
        auth: { ...halaxy.auth, tokenUrl: upstream.tokenUrl, clientSecret: '${file:halaxy-client-secret}' },
        rateLimit: { requests: 1_000_000, window: '1m' }
      }
    }
  }
  const file = join(dir, `tollgate-${port}.yaml`)
  writeFileSync(file, stringifyYaml(config))
  return file
}

/** How each target runs: the bare proxy from its folder; tollgate as the image runs it, with the footprint config. */
export function footprintSpec (layout: Layout, upstream: UpstreamInfo, target: FootprintTarget, port: number, redis: BenchRedis | undefined): Spec {
  if (target === 'bare') {
    const arg = JSON.stringify({ upstream: upstream.origin, prefix: '/halaxy', port })
    return { target, port, cwd: layout.bare, env: layout.env('bare'), argv: [layout.entrypoint[0] as string, join(layout.bare, 'footprint-bare.js'), arg] }
  }
  const config = footprintConfig(layout, upstream, port, redis)
  const env = { ...layout.env('app'), HALAXY_CLIENT_ID: 'bench-client', HALAXY_USER_AGENT: 'tollgate footprint (bench@example.invalid)' }
  return { target, port, cwd: layout.app, env, argv: [...layout.entrypoint, '--config', config] }
}

function commandLine (spec: Spec): string {
  const env = Object.entries(spec.env).filter(([name]) => name !== 'PATH').map(([name, value]) => `${name}=${/\s/.test(value) ? `'${value}'` : value}`)
  return [...env, ...spec.argv].join(' ')
}

export async function runFootprint (bench: Bench, repoRoot: string, progress: (line: string) => void): Promise<FootprintResult> {
  const { settings } = bench
  const quick = settings.quick
  const timing: FootprintTiming = quick
    ? { idleAtS: [1, 2], scrapeEveryS: 1, loadRequests: 300, settleS: 1, pacedRate: 1000, pacedS: 1, pacedSliceMs: 250 }
    : { idleAtS: [30, 60], scrapeEveryS: 15, loadRequests: 3000, settleS: 10, pacedRate: 1000, pacedS: 10, pacedSliceMs: 1000 }
  const node = imageNode(repoRoot, quick)
  progress(`footprint: laying out the image (Node ${node.version}${node.note === undefined ? '' : `: ${node.note}`}), building dist/ and baking the compile cache`)
  const layout = prepareLayout(repoRoot, bench.main.outDir, join(bench.main.outDir, '..', 'footprint'), node)
  const binary = redisServerBinary()
  const redis = binary === undefined ? undefined : await startBenchRedis(binary)
  const logFd = openSync(settings.logTo, 'a')
  const commands: Partial<Record<FootprintTarget, string>> = {}
  const runs: FootprintRun[] = []

  const specFor = async (target: FootprintTarget): Promise<Spec> => footprintSpec(layout, bench.upstream.ready, target, await freePort(), target === 'tollgate-redis' ? redis : undefined)

  try {
    // The bare proxy's compile cache, as tollgate's was baked: one run, stopped with SIGTERM.
    await stop(await start(await specFor('bare'), logFd))
    const targets: FootprintTarget[] = redis === undefined ? ['bare', 'tollgate'] : ['bare', 'tollgate', 'tollgate-redis']
    for (let round = 1; round <= settings.rounds; round++) {
      const order = round % 2 === 1 ? targets : [...targets].reverse()
      progress(`footprint round ${round}/${settings.rounds}: ${order.join(', ')}; idle until ${timing.idleAtS[1]} s after each one's first 200`)
      const proxies: Proxy[] = []
      try {
        for (const target of order) {
          const spec = await specFor(target)
          commands[target] ??= commandLine(spec)
          proxies.push(await start(spec, logFd))
        }
        const idle = await Promise.all(proxies.map(async (p) => await observeIdle(p, timing)))
        // One load at a time; each proxy settles while the next is loaded.
        const settled: Array<Promise<number>> = []
        for (const p of proxies) {
          await load(p, timing.loadRequests)
          settled.push(sleep(timing.settleS * 1000).then(() => procMemory(p.child.pid as number).rss))
        }
        const afterLoad = await Promise.all(settled)
        const paced = new Map<FootprintTarget, Pick<FootprintRun, 'paced' | 'pacedError'>>()
        // All of them in one paced run, taking turns of a second: each loaded alone, as its own pod would be.
        const before = proxies.map((x) => sched(x.child.pid as number).cpuNs)
        try {
          const results = await runJsonChild<LoadResult[]>(bench.main.outDir, 'paced', { urls: proxies.map((x) => `http://127.0.0.1:${x.port}${PATH}`), connections: 10, rate: timing.pacedRate, durationS: timing.pacedS, sliceMs: timing.pacedSliceMs }, (timing.pacedS * proxies.length + 60) * 1000)
          const bare = results[proxies.findIndex((p) => p.target === 'bare')] as LoadResult
          proxies.forEach((p, i) => {
            const pid = p.child.pid as number
            const result = results[i] as LoadResult
            paced.set(p.target, { paced: { cpuMs: (sched(pid).cpuNs - (before[i] as number)) / 1e6, rss: procMemory(pid).rss, result, ...(p.target === 'bare' ? {} : { bare }) } })
          })
        } catch (err) {
          progress(`footprint: the paced run failed: ${(err as Error).message}`)
          for (const p of proxies) paced.set(p.target, { pacedError: (err as Error).message })
        }
        proxies.forEach((p, i) => {
          runs.push({
            round,
            target: p.target,
            readyMs: p.readyMs,
            readyCpuMs: p.readyCpuMs,
            ...(idle[i] as Pick<FootprintRun, 'rssIdle' | 'idle'>),
            rssAfterLoad: afterLoad[i] as number,
            ...(paced.get(p.target) ?? { pacedError: 'no pair answered' })
          })
        })
      } finally {
        await Promise.all(proxies.map(stop))
      }
    }
  } finally {
    closeSync(logFd)
    await redis?.close()
  }
  return { node, timing, commands, runs, ...(redis === undefined ? { redisSkipped: 'redis-server not found' } : {}) }
}
