/**
 * CPU profile of a tollgate process under the throughput load (small GETs,
 * 100 connections): `node --cpu-prof`, then only the samples taken during
 * the measured run are summarised (V8 stamps samples on the monotonic clock
 * that process.hrtime reads, so the harness can cut out startup and warm-up).
 */
import { mkdtemp, readdir } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { summariseProfile, type ProfileSummary } from './cpuprofile.js'
import type { Child } from './proc.js'
import { loadOptions, runLoad } from './scenario-throughput.js'
import { PREFIX, type Bench } from './setup.js'

export interface ProfileResult {
  readonly target: string
  readonly file: string
  readonly rps: number
  /** Requests answered while profiled. */
  readonly requests: number
  readonly summary: ProfileSummary
}

/** Starts the process to profile with the extra node flags given. */
export type ProfiledStart = (execArgv: readonly string[]) => Promise<Child<{ url: string }>>

function monotonicUs (): number {
  return Number(process.hrtime.bigint() / 1000n)
}

export async function runProfile (bench: Bench, name: string, rootDir: string, start: ProfiledStart): Promise<ProfileResult> {
  const dir = await mkdtemp(join(tmpdir(), `tollgate-bench-profile-${name}-`))
  const proxy = await start(['--cpu-prof', `--cpu-prof-dir=${dir}`, '--cpu-prof-interval=250'])
  let fromUs: number
  let toUs: number
  let rps: number
  let requests: number
  try {
    const base = `${proxy.ready.url}${PREFIX}`
    await runLoad(bench, loadOptions(base, 'get', 100, Math.max(0.5, bench.settings.warmupS)))
    fromUs = monotonicUs()
    const result = await runLoad(bench, loadOptions(base, 'get', 100, bench.settings.profileS))
    toUs = monotonicUs()
    rps = result.rps
    requests = result.ok
  } finally {
    // A clean exit writes the profile; a kill would lose it.
    await proxy.stop(20_000)
  }
  const files = (await readdir(dir)).filter((f) => f.endsWith('.cpuprofile'))
  const file = files[0]
  if (file === undefined) throw new Error(`no .cpuprofile written in ${dir}`)
  const path = join(dir, file)
  return { target: name, file: path, rps, requests, summary: summariseProfile(path, rootDir, { fromUs, toUs }) }
}

/** For each target, in first-seen order, the profile whose busy time per request is the median of its rounds. */
export function medianProfiles (profiles: readonly ProfileResult[]): ProfileResult[] {
  const byTarget = new Map<string, ProfileResult[]>()
  for (const p of profiles) byTarget.set(p.target, [...(byTarget.get(p.target) ?? []), p])
  return [...byTarget.values()].map((rounds) => {
    const sorted = [...rounds].sort((a, b) => a.summary.busyMs / Math.max(1, a.requests) - b.summary.busyMs / Math.max(1, b.requests))
    return sorted[(sorted.length - 1) >> 1] as ProfileResult
  })
}
