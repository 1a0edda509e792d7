/**
 * A private redis-server for the limiter-redis scenario: loopback, a free
 * port, no persistence, and a SLOWLOG that records every command
 * (`slowlog-log-slower-than 0`), drained atomically (MULTI: SLOWLOG GET -1,
 * SLOWLOG RESET) every DRAIN_MS so that it never overflows however long the
 * run. It can be stopped and continued (SIGSTOP, SIGCONT): an outage the
 * replicas see as a Redis that accepts connections and answers nothing.
 * Started on the support CPUs (cpu-placement.ts); killed at any exit of the
 * harness.
 *
 * Real-time scheduling (SCHED_FIFO, `chrt -f 1`) where the harness may set
 * it: a SLOWLOG duration is wall time from the start of a command to its end,
 * so a redis-server preempted mid-script by another process logs the
 * preemption as the script's. On this shared two-CPU machine, with its other
 * tenants busy, scripts whose median was 30 µs logged maxima of 10 to 45 ms
 * under normal scheduling. Redis waits in epoll between commands, so it
 * takes the CPU only for as long as a command runs.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { Redis } from 'ioredis'
import { wrapCommand } from './cpu-placement.js'
import type { SlowEntry } from './limiter-redis-stats.js'
import { freePort } from '../test/helpers/ports.js'
import { pong } from '../test/helpers/redis-server.js'

const CANDIDATES = [process.env.REDIS_SERVER, '/usr/bin/redis-server', '/usr/local/bin/redis-server', 'redis-server']
/** Between two drains the log holds at most this many entries; at ~5,000 commands/s, a drain every DRAIN_MS fits easily. */
const SLOWLOG_MAX_LEN = 100_000
const DRAIN_MS = 250

/** The redis-server binary, or undefined. */
export function redisServerBinary (): string | undefined {
  for (const candidate of CANDIDATES) {
    if (candidate === undefined) continue
    if (candidate.includes('/') && !existsSync(candidate)) continue
    if (spawnSync(candidate, ['--version']).status === 0) return candidate
  }
  return undefined
}

/** How redis-server is scheduled: `chrt -f 1` if this process may, else the default policy. */
function scheduling (): { prefix: string[], label: string } {
  if (spawnSync('chrt', ['-f', '1', 'true']).status === 0) return { prefix: ['chrt', '-f', '1'], label: 'SCHED_FIFO 1 (chrt)' }
  return { prefix: [], label: 'default (SCHED_OTHER: chrt -f not permitted)' }
}

export interface BenchRedis {
  readonly url: string
  /** Its scheduling policy, for the report. */
  readonly scheduling: string
  readonly pid: number
  readonly version: string
  /** The harness's own connection (no command timeout: it waits out a SIGSTOP). */
  readonly client: Redis
  /** SIGSTOP: connections stay open, nothing is answered. */
  stop (): void
  /** SIGCONT. */
  resume (): void
  /** Empty the slowlog, and keep every entry logged from now on (drained in the background). */
  startSlowlog (): Promise<void>
  /** Drain once more, stop draining, and hand over every entry since startSlowlog. */
  endSlowlog (): Promise<SlowEntry[]>
  /** Units a limiter key holds: a sorted set's members, or the sum of a hash's counts. */
  unitsIn (key: string): Promise<number | undefined>
  /** Every key matching `pattern` (SCAN) with its MEMORY USAGE (SAMPLES 0: every element counted), bytes. */
  memoryOf (pattern: string): Promise<Array<{ key: string, bytes: number }>>
  close (): Promise<void>
}

export async function startBenchRedis (binary: string): Promise<BenchRedis> {
  const port = await freePort()
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--loglevel', 'warning',
    '--slowlog-log-slower-than', '0', '--slowlog-max-len', String(SLOWLOG_MAX_LEN)]
  const policy = scheduling()
  const [first, ...rest] = [...policy.prefix, binary, ...args] as [string, ...string[]]
  const { file, args: wrapped } = wrapCommand('support', first, rest)
  const child = spawn(file, wrapped, { stdio: ['ignore', 'ignore', 'pipe'] })
  const kill = (): void => { child.kill('SIGKILL') }
  process.once('exit', kill)
  let stderr = ''
  child.stderr?.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
  await waitForPong(child, port, () => stderr)
  const client = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: null, enableOfflineQueue: true })
  client.on('error', () => {})
  await client.connect()
  const version = /redis_version:(\S+)/.exec(await client.info('server'))?.[1] ?? 'unknown'

  let entries: SlowEntry[] = []
  let draining: NodeJS.Timeout | undefined
  let inFlight: Promise<void> = Promise.resolve()
  const drainOnce = async (): Promise<void> => {
    const replies = await client.multi().call('SLOWLOG', 'GET', '-1').call('SLOWLOG', 'RESET').exec()
    const raw = (replies?.[0]?.[1] ?? []) as unknown[]
    for (const entry of raw) entries.push(parseSlowEntry(entry))
  }
  const drain = (): void => {
    inFlight = inFlight.then(drainOnce).catch(() => {}).finally(() => {
      if (draining !== undefined) draining = setTimeout(drain, DRAIN_MS)
    })
  }

  return {
    url: `redis://127.0.0.1:${port}`,
    pid: child.pid as number,
    version,
    scheduling: policy.label,
    client,
    stop: () => { child.kill('SIGSTOP') },
    resume: () => { child.kill('SIGCONT') },
    async startSlowlog () {
      await client.call('SLOWLOG', 'RESET')
      entries = []
      draining = setTimeout(drain, DRAIN_MS)
    },
    async endSlowlog () {
      clearTimeout(draining)
      draining = undefined
      await inFlight
      await drainOnce()
      const out = entries
      entries = []
      return out
    },
    async unitsIn (key: string) {
      const type = await client.type(key)
      if (type === 'zset') return await client.zcard(key)
      if (type === 'hash') return (await client.hvals(key)).reduce((sum, v) => sum + (Number(v) || 0), 0)
      return undefined
    },
    async memoryOf (pattern: string) {
      const out: Array<{ key: string, bytes: number }> = []
      let cursor = '0'
      do {
        const [next, keys] = await client.scan(cursor, 'MATCH', pattern, 'COUNT', 1000)
        cursor = next
        for (const key of keys) {
          const bytes = await client.call('MEMORY', 'USAGE', key, 'SAMPLES', '0') as number | null
          if (bytes !== null) out.push({ key, bytes })
        }
      } while (cursor !== '0')
      return out
    },
    async close () {
      clearTimeout(draining)
      draining = undefined
      child.kill('SIGCONT')
      client.disconnect()
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
        child.kill('SIGKILL')
        await exited
      }
      process.removeListener('exit', kill)
    }
  }
}

/** One SLOWLOG GET entry: [id, unix s, µs, argv, client, name]. */
function parseSlowEntry (raw: unknown): SlowEntry {
  const [id, at, micros, argv] = raw as [number, number, number, string[]]
  return { id, at, micros, command: String(argv[0] ?? '').toUpperCase(), arg: String(argv[1] ?? '') }
}

async function waitForPong (child: ChildProcess, port: number, stderr: () => string): Promise<void> {
  const deadline = Date.now() + 5000
  while (!(await pong(port))) {
    if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode}: ${stderr()}`)
    if (Date.now() > deadline) {
      child.kill('SIGKILL')
      throw new Error(`redis-server did not answer on port ${port} within 5 s: ${stderr()}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}
