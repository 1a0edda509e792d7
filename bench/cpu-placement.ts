/**
 * Which CPUs the benchmark's processes run on. With two or more CPUs, the
 * process under measurement (a proxy, tollgate in every scenario) gets the
 * last CPU to itself; the upstream, the load generators and the harness share
 * the others. Left to the scheduler, a process's speed depended on where it
 * landed: two identical tollgates loaded at once differed by up to 18 % in
 * CPU per request from one 3 s run to the next; pinned to one CPU together,
 * by at most 3 % (docs/benchmarks.md, "Session 3"). Pinning also keeps the
 * load generator from taking the proxy's CPU, as a sidecar's CPU limit would.
 *
 * Done with util-linux's `taskset` as an exec wrapper, so every thread the
 * child ever starts inherits the mask. Without taskset, or on one CPU,
 * nothing is pinned and the report says so.
 */
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'

export type Role = 'measured' | 'support'

export interface Placement {
  /** A CPU list as taskset takes it, e.g. "1". */
  readonly measured: string
  readonly support: string
}

/** The CPUs this process may run on (`Cpus_allowed_list` in /proc/self/status), expanded. */
export function allowedCpus (status = readFileSync('/proc/self/status', 'utf8')): number[] {
  const list = /^Cpus_allowed_list:\s*(\S+)/m.exec(status)?.[1]
  if (list === undefined) return []
  return list.split(',').flatMap((part) => {
    const [from, to] = part.split('-').map(Number) as [number, number | undefined]
    return Array.from({ length: (to ?? from) - from + 1 }, (_, i) => from + i)
  })
}

/** The plan for this machine, or why there is none. */
export function planPlacement (): Placement | string {
  let cpus: number[]
  try {
    cpus = allowedCpus()
  } catch {
    return 'not pinned: no /proc/self/status (not Linux)'
  }
  if (cpus.length < 2) return `not pinned: ${cpus.length} CPU allowed`
  try {
    execFileSync('taskset', ['-V'], { stdio: 'ignore' })
  } catch {
    return 'not pinned: taskset (util-linux) not found'
  }
  return { measured: String(cpus[cpus.length - 1]), support: cpus.slice(0, -1).join(',') }
}

let placement: Placement | undefined

/** From now on, children start on their role's CPUs, and so does this process. */
export function applyPlacement (plan: Placement): void {
  placement = plan
  execFileSync('taskset', ['-a', '-p', '-c', plan.support, String(process.pid)], { stdio: 'ignore' })
}

/** How to start a child of this role: its executable and the arguments before node's own. */
export function launcher (role: Role): { execPath: string, prefix: string[] } {
  if (placement === undefined) return { execPath: process.execPath, prefix: [] }
  return { execPath: 'taskset', prefix: ['-c', placement[role], process.execPath] }
}

/** The same for any executable (redis-server): what to run and its arguments. */
export function wrapCommand (role: Role, file: string, args: readonly string[]): { file: string, args: string[] } {
  if (placement === undefined) return { file, args: [...args] }
  return { file: 'taskset', args: ['-c', placement[role], file, ...args] }
}

export function describePlacement (plan: Placement | string): string {
  return typeof plan === 'string'
    ? plan
    : `measured process (proxy or tollgate) on CPU ${plan.measured}; upstream, load generators and harness on CPU ${plan.support}`
}
