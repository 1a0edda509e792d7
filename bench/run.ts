/**
 * `npm run bench`: tollgate against its floors, in one invocation, and the
 * scenarios beyond throughput (docs/benchmarks.md says how to read it).
 * Progress goes to stderr; the report (Markdown) to stdout.
 */
import { execFileSync } from 'node:child_process'
import { readFileSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, loadavg, totalmem } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { buildTree } from './build.js'
import { formatAreaComparison, formatFunctionDiff, formatProfile } from './cpuprofile.js'
import { startChild, type Child } from './proc.js'
import { applyPlacement, describePlacement, planPlacement } from './cpu-placement.js'
import { fhirSection, limiterRedisSection, limiterSection, memorySection, pacedSection, pairedSection, queueSection, refreshSection, stampedeSection, throughputSection, verdictSection, type Results } from './report.js'
import { runLimiter } from './scenario-limiter.js'
import { runLimiterRedis } from './scenario-limiter-redis.js'
import { medianProfiles, runProfile, type ProfileResult } from './scenario-profile.js'
import { runQueue } from './scenario-queue.js'
import { runFhir } from './scenario-fhir.js'
import { footprintSection } from './footprint-report.js'
import { runFootprint } from './scenario-footprint.js'
import { runRefresh } from './scenario-refresh.js'
import { runStampede } from './scenario-stampede.js'
import { proxyTarget, runThroughput, type Target } from './scenario-throughput.js'
import { HELP, parseCommand, type Command } from './settings.js'
import { PREFIX, startCandidate, startTollgate, tollgateConfig, type Bench, type Candidate, type UpstreamInfo } from './setup.js'

const here = dirname(fileURLToPath(import.meta.url))
const repoRoot = resolve(here, '..')
const startedAt = performance.now()

function progress (line: string): void {
  process.stderr.write(`bench ${((performance.now() - startedAt) / 1000).toFixed(1).padStart(5)} s: ${line}\n`)
}

function machine (): string {
  const model = /^model name\s*:\s*(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? 'unknown CPU'
  let git = 'not a git checkout'
  try {
    const rev = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: repoRoot, encoding: 'utf8' }).trim()
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src'], { cwd: repoRoot, encoding: 'utf8' }).split('\n').filter((l) => l !== '').length
    git = `${rev}${dirty > 0 ? ` + ${dirty} uncommitted change(s) in src/` : ''}`
  } catch {}
  return `nproc ${cpus().length}, ${model}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB; Node ${process.version}; tollgate ${git}`
}

async function runScenarios (bench: Bench, results: Results, profiles: ProfileResult[], targetNames: string[]): Promise<void> {
  const { upstream, candidate, settings } = bench
  const s = settings.scenarios
  if (s.has('throughput') || s.has('refresh')) {
    const tollgate = await startTollgate(bench, tollgateConfig(upstream.ready))
    const patched = candidate === undefined ? undefined : await startCandidate(bench, candidate, tollgateConfig(upstream.ready))
    try {
      if (s.has('throughput')) {
        const startBare = async (): Promise<Child<{ url: string }>> => await startChild<{ url: string }>(bench.main.outDir, 'bare-proxy', { arg: { upstream: upstream.ready.origin, prefix: PREFIX }, role: 'measured' })
        const bare = await startBare()
        try {
          const targets: Target[] = [
            { name: 'direct', base: upstream.ready.origin },
            proxyTarget('bare', bare, startBare),
            proxyTarget('tollgate', tollgate, async () => await startTollgate(bench, tollgateConfig(upstream.ready))),
            ...(patched === undefined || candidate === undefined ? [] : [proxyTarget('candidate', patched, async () => await startCandidate(bench, candidate, tollgateConfig(upstream.ready)))])
          ]
          targetNames.push(...targets.map((t) => t.name))
          results.throughput = await runThroughput(bench, targets, progress)
          const { shortBodies } = await upstream.call<{ shortBodies: number }>('counters')
          if (shortBodies > 0) progress(`WARNING: the upstream saw ${shortBodies} POST bodies shorter than their content-length`)
        } finally {
          await bare.stop()
        }
      }
      if (s.has('refresh')) {
        progress('token refresh under load')
        results.refresh = await runRefresh(bench, tollgate)
      }
    } finally {
      await tollgate.stop()
      await patched?.stop()
    }
  }
  if (s.has('stampede')) {
    progress('cold-start stampede')
    results.stampede = await runStampede(bench)
  }
  if (s.has('limiter')) {
    progress('limiter under overload')
    results.limiter = await runLimiter(bench)
  }
  if (s.has('limiter-redis')) {
    progress('limiter shared through Redis: three replicas, overload, one outage')
    results.limiterRedis = await runLimiterRedis(bench, progress)
    if (results.limiterRedis.skipped !== undefined) progress(`limiter-redis not run: ${results.limiterRedis.skipped}`)
  }
  if (s.has('queue')) {
    progress('memory per queued request')
    results.queue = await runQueue(bench)
  }
  if (s.has('fhir')) {
    progress('rewriteLinks: fhir against none: a 100-entry Bundle paired, a large one streamed')
    results.fhir = await runFhir(bench, progress)
  }
  if (s.has('footprint')) {
    progress('footprint: tollgate as the image runs it against the bare proxy')
    results.footprint = await runFootprint(bench, repoRoot, progress)
  }
  if (settings.profile) {
    for (let round = 1; round <= settings.profileRounds; round++) {
      progress(`CPU profiles, round ${round}/${settings.profileRounds}, ${settings.profileS} s each`)
      // The floor first, under the same load: the difference is tollgate's own work.
      profiles.push(await runProfile(bench, 'bare', repoRoot, async (execArgv) =>
        await startChild<{ url: string }>(bench.main.outDir, 'bare-proxy', { arg: { upstream: upstream.ready.origin, prefix: PREFIX }, execArgv, role: 'measured' })))
      profiles.push(await runProfile(bench, 'tollgate', repoRoot, async (execArgv) =>
        await startTollgate(bench, tollgateConfig(upstream.ready), { execArgv })))
      if (candidate !== undefined) {
        profiles.push(await runProfile(bench, 'candidate', candidate.tree.rootDir, async (execArgv) =>
          await startCandidate(bench, candidate, tollgateConfig(upstream.ready), execArgv)))
      }
    }
  }
}

function report (command: Command, results: Results, profiles: readonly ProfileResult[], targetNames: readonly string[], load: { start: number, end: number }, placement: string): string {
  const out: string[] = [
    '# tollgate benchmark',
    '',
    `machine: ${machine()}; load average ${load.start.toFixed(1)} at the start, ${load.end.toFixed(1)} at the end`,
    `CPUs: ${placement}`,
    `command: npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`,
    `settings: ${command.rounds} round(s) × ${command.durationS} s per run, connections ${command.connections.join(',')}, loads ${command.loads.join(',')}; tollgate logs at info to ${command.logTo}` +
      (command.candidateFlags.length > 0 ? `; candidate node flags: ${command.candidateFlags.join(' ')}` : '') +
      (Object.keys(command.candidateEnv).length > 0 ? `; candidate environment: ${Object.entries(command.candidateEnv).map(([k, v]) => `${k}=${v}`).join(' ')}` : '') +
      (command.quick ? '\nquick mode: too short and too few rounds for the verdicts to mean anything; it proves the harness runs' : ''),
    ''
  ]
  if (results.throughput !== undefined) {
    out.push('## Throughput and latency, saturated, alternating (medians over rounds; ratios per round, their median and range)', '', throughputSection(results.throughput, targetNames), '')
    if (results.throughput.paired.length > 0) {
      out.push('## Throughput, saturated, paired: every proxy at once on one CPU (medians over rounds; ratios per round)', '', pairedSection(results.throughput, targetNames.filter((t) => t !== 'direct')), '')
    }
    if (results.throughput.paced.length > 0) {
      out.push('## Added latency, unsaturated (GET small at a fixed rate, open loop; medians over rounds)', '', pacedSection(results.throughput.paced, targetNames), '')
    }
    out.push('## Memory of the proxy processes', '', memorySection(results.throughput), '')
  }
  if (results.refresh !== undefined) out.push('## Token refresh under load', '', refreshSection(results.refresh), '')
  if (results.stampede !== undefined) out.push('## Cold-start stampede', '', stampedeSection(results.stampede), '')
  if (results.limiter !== undefined) out.push('## Limiter accuracy and cost under overload', '', limiterSection(results.limiter), '')
  if (results.limiterRedis !== undefined) out.push('## Limiter shared through Redis: three replicas under overload, one outage', '', limiterRedisSection(results.limiterRedis), '')
  if (results.queue !== undefined) out.push('## Memory per queued request', '', queueSection(results.queue), '')
  if (results.fhir !== undefined) out.push('## FHIR links rewritten (rewriteLinks: fhir) against the same upstream without', '', fhirSection(results.fhir), '')
  if (results.footprint !== undefined) out.push('## Footprint: tollgate as the image runs it against the bare proxy', '', footprintSection(results.footprint), '')
  if (profiles.length > 0) {
    const typical = medianProfiles(profiles)
    out.push(`## CPU per request by area (main thread, GET small, 100 conns; median of ${command.profileRounds} profile(s) per target)`, '', formatAreaComparison(profiles), '')
    const floor = typical.find((p) => p.target === 'bare')
    for (const p of typical) {
      if (p === floor) continue
      out.push(`## CPU profile: ${p.target} (${Math.round(p.rps)} req/s while profiled; the median one by busy time)`, '', `profile: ${p.file}`, '', formatProfile(p.summary), '')
      if (floor !== undefined) out.push(`Where ${p.target} spends more than the bare proxy, per request (self time):`, '', formatFunctionDiff(floor, p), '')
    }
  }
  out.push('## Targets', '', verdictSection(results), '', `total ${((performance.now() - startedAt) / 1000).toFixed(0)} s`, '')
  return out.join('\n')
}

async function main (): Promise<void> {
  const command = parseCommand(process.argv.slice(2))
  if (command.help) {
    process.stdout.write(HELP)
    return
  }
  const loadAtStart = loadavg()[0] ?? NaN
  const plan = command.pin ? planPlacement() : 'not pinned: --no-pin'
  if (typeof plan !== 'string') applyPlacement(plan)
  // One build per invocation, so two runs (a developer's and the smoke test) never share one; gone at exit.
  const cacheRoot = join(repoRoot, 'node_modules', '.cache', 'tollgate-bench', String(process.pid))
  process.once('exit', () => rmSync(cacheRoot, { recursive: true, force: true }))
  const main = await buildTree(repoRoot, here, cacheRoot, 'main')
  const candidate: Candidate | undefined = command.candidateDir === undefined && command.candidateFlags.length === 0 && Object.keys(command.candidateEnv).length === 0
    ? undefined
    : {
        tree: command.candidateDir === undefined ? main : await buildTree(resolve(command.candidateDir), here, cacheRoot, 'candidate'),
        execArgv: command.candidateFlags,
        env: command.candidateEnv
      }
  progress('built')

  const upstream = await startChild<UpstreamInfo>(main.outDir, 'upstream')
  const results: Results = {}
  const profiles: ProfileResult[] = []
  const targetNames: string[] = []
  try {
    await runScenarios({ settings: command, main, candidate, upstream }, results, profiles, targetNames)
  } finally {
    await upstream.stop()
  }
  process.stdout.write(report(command, results, profiles, targetNames, { start: loadAtStart, end: loadavg()[0] ?? NaN }, describePlacement(plan)))
  if (command.json !== undefined) {
    writeFileSync(command.json, JSON.stringify({
      command: { ...command, scenarios: [...command.scenarios] },
      results,
      profiles: profiles.map((p) => ({ ...p, summary: { ...p.summary, self: p.summary.self.slice(0, 60) } }))
    }, null, 1))
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${(err as Error).stack ?? String(err)}\n`)
  // Exiting runs proc.ts's exit hook, which kills any child still running.
  process.exit(1)
})
