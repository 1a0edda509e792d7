/**
 * The processes of the footprint scenario (scenario-footprint.ts): started
 * as plain processes on the measured CPU, ready at their first proxied 200,
 * read from /proc, stopped with SIGTERM as a container runtime stops them.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { get } from 'node:http'
import { wrapCommand } from './cpu-placement.js'

export type FootprintTarget = 'bare' | 'tollgate' | 'tollgate-redis'

/** The request the footprint sends (the halaxy preset's prefix; the bench upstream answers any path). */
export const PATH = '/halaxy/Patient/bench-1'

export interface Sched { readonly cpuNs: number, readonly slices: number, readonly threads: number }

/** All threads of a process: ns on a CPU and time slices begun (/proc/PID/task/<tid>/schedstat). */
export function sched (pid: number): Sched {
  let cpuNs = 0
  let slices = 0
  const tasks = readdirSync(`/proc/${pid}/task`)
  for (const tid of tasks) {
    try {
      const [run, , count] = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').trim().split(' ').map(Number)
      cpuNs += run ?? 0
      slices += count ?? 0
    } catch {} // a thread that ended between the listing and the read
  }
  return { cpuNs, slices, threads: tasks.length }
}

export async function status (port: number, path: string): Promise<number> {
  return await new Promise((resolve) => {
    get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      res.resume()
      res.on('end', () => resolve(res.statusCode ?? 0))
    }).on('error', () => resolve(0))
  })
}

export const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, Math.max(0, ms))) }

export interface Proxy {
  readonly target: FootprintTarget
  readonly port: number
  readonly child: ChildProcess
  readonly readyAt: number
  readonly readyMs: number
  /** CPU all its threads had used by then: what the machine's other work does not stretch. */
  readonly readyCpuMs: number
  readonly stderr: () => string
}

export interface Spec { readonly target: FootprintTarget, readonly argv: string[], readonly cwd: string, readonly env: Record<string, string>, readonly port: number }

export async function start (spec: Spec, logFd: number): Promise<Proxy> {
  const [file, ...args] = spec.argv as [string, ...string[]]
  const wrapped = wrapCommand('measured', file, args)
  let stderr = ''
  const started = performance.now()
  const child = spawn(wrapped.file, wrapped.args, { cwd: spec.cwd, env: spec.env, stdio: ['ignore', logFd, 'pipe'] })
  child.stderr?.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
  // Killed with the harness whatever happens to it; forgotten once it has exited.
  const kill = (): void => { child.kill('SIGKILL') }
  process.once('exit', kill)
  child.once('exit', () => process.removeListener('exit', kill))
  while (await status(spec.port, PATH) !== 200) {
    if (child.exitCode !== null) throw new Error(`footprint: ${spec.target} exited ${child.exitCode}: ${stderr.slice(-2000)}`)
    if (performance.now() - started > 30_000) throw new Error(`footprint: ${spec.target} gave no 200 within 30 s: ${stderr.slice(-2000)}`)
    await sleep(5)
  }
  const readyAt = performance.now()
  return { target: spec.target, port: spec.port, child, readyAt, readyMs: readyAt - started, readyCpuMs: sched(child.pid as number).cpuNs / 1e6, stderr: () => stderr }
}

export async function stop (proxy: Proxy): Promise<void> {
  if (proxy.child.exitCode !== null || proxy.child.signalCode !== null) return
  const exited = new Promise((resolve) => proxy.child.once('exit', resolve))
  proxy.child.kill('SIGTERM')
  const timer = setTimeout(() => proxy.child.kill('SIGKILL'), 15_000)
  await exited
  clearTimeout(timer)
}
