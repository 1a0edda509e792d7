/**
 * The parent side: start a bench child (a transpiled bench/*.js) with an IPC
 * channel, wait for it to announce itself, call it, read its memory from
 * /proc, stop it. Every child is registered so that any exit of the harness,
 * error or Ctrl-C included, kills what is still running.
 */
import { fork, type ChildProcess } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { launcher, type Role } from './cpu-placement.js'

export interface Child<Ready = Record<string, unknown>> {
  readonly name: string
  readonly pid: number
  readonly ready: Ready
  call<T = unknown> (type: string, payload?: Record<string, unknown>, timeoutMs?: number): Promise<T>
  /** Ask it to exit (it closes its servers first), then kill it if it has not within `graceMs`. */
  stop (graceMs?: number): Promise<void>
}

export interface StartOptions {
  /** Passed to the child as one JSON argument. */
  readonly arg?: unknown
  readonly execArgv?: readonly string[]
  /** Added to the environment it inherits. */
  readonly env?: Readonly<Record<string, string>>
  readonly readyTimeoutMs?: number
  /** Where the child's stdout goes; stderr always goes to ours. */
  readonly stdout?: 'inherit' | 'ignore' | 'pipe'
  /** Which CPUs it runs on (cpu-placement.ts); support by default. */
  readonly role?: Role
}

const running = new Set<ChildProcess>()

function killAll (): void {
  for (const child of running) child.kill('SIGKILL')
  running.clear()
}
process.once('exit', killAll)
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    killAll()
    process.exit(130)
  })
}

let callIds = 0

export async function startChild<Ready = Record<string, unknown>> (builtDir: string, script: string, options: StartOptions = {}): Promise<Child<Ready> & { process: ChildProcess }> {
  const file = join(builtDir, 'bench', `${script}.js`)
  const { execPath, prefix } = launcher(options.role ?? 'support')
  const child = fork(file, options.arg === undefined ? [] : [JSON.stringify(options.arg)], {
    execPath,
    execArgv: [...prefix, ...(options.execArgv ?? [])],
    ...(options.env === undefined ? {} : { env: { ...process.env, ...options.env } }),
    stdio: ['ignore', options.stdout ?? 'ignore', 'inherit', 'ipc'],
    serialization: 'advanced'
  })
  running.add(child)
  const exited = new Promise<void>((resolve) => child.once('exit', () => {
    running.delete(child)
    resolve()
  }))
  const pending = new Map<number, { resolve: (value: unknown) => void, reject: (err: Error) => void }>()
  child.on('message', (message: { id?: number, ok?: boolean, data?: unknown, error?: string }) => {
    if (message.id === undefined) return
    const waiter = pending.get(message.id)
    if (waiter === undefined) return
    pending.delete(message.id)
    if (message.ok === true) waiter.resolve(message.data)
    else waiter.reject(new Error(`${script}: ${message.error ?? 'failed'}`))
  })
  child.once('exit', (code, signal) => {
    for (const waiter of pending.values()) waiter.reject(new Error(`${script} exited (${code ?? signal})`))
    pending.clear()
  })

  const ready = await new Promise<Ready>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`${script} did not start within ${options.readyTimeoutMs ?? 20_000} ms`))
    }, options.readyTimeoutMs ?? 20_000)
    child.on('message', (message: { ready?: boolean, data?: Ready }) => {
      if (message.ready !== true) return
      clearTimeout(timer)
      resolve(message.data as Ready)
    })
    child.once('exit', (code, signal) => {
      clearTimeout(timer)
      reject(new Error(`${script} exited before it was ready (${code ?? signal})`))
    })
  })

  const call = async <T>(type: string, payload?: Record<string, unknown>, timeoutMs = 60_000): Promise<T> => {
    const id = ++callIds
    return await new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        pending.delete(id)
        reject(new Error(`${script}: call ${type} timed out after ${timeoutMs} ms`))
      }, timeoutMs)
      pending.set(id, {
        resolve: (value) => { clearTimeout(timer); resolve(value as T) },
        reject: (err) => { clearTimeout(timer); reject(err) }
      })
      child.send({ id, type, ...(payload === undefined ? {} : { payload }) })
    })
  }

  const stop = async (graceMs = 8000): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return
    call('exit', undefined, graceMs).catch(() => {})
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs)
    await exited
    clearTimeout(timer)
  }

  return { name: script, pid: child.pid as number, ready, call, stop, process: child }
}

export interface ProcMemory {
  /** Resident set now, bytes. */
  readonly rss: number
  /** Peak resident set since the process started (VmHWM), bytes. */
  readonly peakRss: number
}

/** From /proc/PID/status: the kernel's own account, no cooperation from the process. */
export function procMemory (pid: number): ProcMemory {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const kb = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024
  return { rss: kb('VmRSS'), peakRss: kb('VmHWM') }
}

/**
 * Sets a process's peak resident set (VmHWM) back to its resident set now
 * (Linux ≥ 4.0: `5` into /proc/PID/clear_refs), so a later peak is that of
 * what happened since. Returns false where the kernel does not allow it.
 */
export function resetPeakRss (pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5')
    return true
  } catch {
    return false
  }
}

/**
 * CPU time the whole machine has spent busy so far, ms, all cores together
 * (/proc/stat: user, nice, system, irq, softirq, steal; in 10 ms ticks).
 */
export function machineBusyMs (): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? ''
  const [, user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).map(Number)
  return ((user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0)) * 10
}

/** User + system CPU time of a process so far, ms (/proc/PID/stat fields 14 and 15, in clock ticks of 10 ms). */
export function procCpuMs (pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  // The command name may hold spaces; the fields after it are space-separated.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) * 10
}

/**
 * Run a one-shot child that prints one JSON line on stdout and exits (the
 * load generator, the raw clients); killed if it runs past `timeoutMs`.
 */
export async function runJsonChild<T> (builtDir: string, script: string, arg: unknown, timeoutMs: number): Promise<T> {
  const { execPath, prefix } = launcher('support')
  const child = fork(join(builtDir, 'bench', `${script}.js`), [JSON.stringify(arg)], {
    execPath,
    execArgv: prefix,
    stdio: ['ignore', 'pipe', 'inherit', 'ipc']
  })
  running.add(child)
  const chunks: Buffer[] = []
  child.stdout?.on('data', (chunk: Buffer) => chunks.push(chunk))
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
  const code = await new Promise<number | string>((resolve) => child.once('exit', (exitCode, signal) => resolve(exitCode ?? signal ?? 'unknown')))
  clearTimeout(timer)
  running.delete(child)
  const lines = Buffer.concat(chunks).toString('utf8').trim().split('\n')
  const last = lines[lines.length - 1] ?? ''
  if (code !== 0 || !(last.startsWith('{') || last.startsWith('['))) throw new Error(`${script} failed (exit ${code}${code === 'SIGKILL' ? `, killed after ${timeoutMs} ms` : ''})`)
  return JSON.parse(last) as T
}
