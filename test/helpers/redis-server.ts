/**
 * A real redis-server for one test file, on a free loopback port, with no
 * persistence; killed when the test ends. Tests that need it skip (with the
 * reason) where the binary is missing: `.ci/run` installs it in CI.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { connect } from 'node:net'
import type { TestContext } from 'node:test'
import { Redis } from 'ioredis'
import { freePort } from './ports.js'

const CANDIDATES = [process.env.REDIS_SERVER, '/usr/bin/redis-server', '/usr/local/bin/redis-server', 'redis-server']

export interface RedisServer {
  readonly port: number
  /** `redis://127.0.0.1:PORT` */
  readonly url: string
  /** A client for the test's own looks at the keys (closed when the test ends). */
  readonly client: Redis
  /** SIGKILL: no goodbye to the clients, as a crash or a network cut would be. */
  kill (): Promise<void>
  /** A fresh, empty server on the same port (what a restarted Redis without persistence is). */
  restart (): Promise<void>
}

/** The redis-server binary, or undefined. */
export function redisServerBinary (): string | undefined {
  for (const candidate of CANDIDATES) {
    if (candidate === undefined) continue
    if (candidate.includes('/') && !existsSync(candidate)) continue
    if (spawnSync(candidate, ['--version']).status === 0) return candidate
  }
  return undefined
}

/**
 * Start a server, or skip the test (returning undefined) when there is no
 * redis-server. Usage: `const redis = await startRedis(t); if (redis === undefined) return`.
 */
export async function startRedis (t: TestContext, options: { readonly port?: number } = {}): Promise<RedisServer | undefined> {
  const binary = redisServerBinary()
  if (binary === undefined) {
    // In CI a missing server is a failure, never a silent skip.
    if (process.env.CI === 'true') throw new Error('redis-server not found, and CI=true: the Redis tests must run')
    t.skip('redis-server not found (looked for $REDIS_SERVER, /usr/bin/redis-server and PATH): install it (apt-get install redis-server) to run the Redis tests')
    return undefined
  }
  const port = options.port ?? await freePort()
  // Named in the output, so a reader of CI's log sees which Redis tests ran.
  t.diagnostic(`redis-server ${binary} on 127.0.0.1:${port}`)
  let child = await spawnRedis(binary, port)
  const client = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => 50 })
  client.on('error', () => {})
  await client.connect()
  t.after(async () => {
    client.disconnect()
    await stop(child)
  })
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    client,
    kill: () => stop(child),
    async restart () {
      await stop(child)
      child = await spawnRedis(binary, port)
    }
  }
}

/** A port nothing listens on (nor will, unless a test starts something there). */
export { freePort } from './ports.js'

async function spawnRedis (binary: string, port: number): Promise<ChildProcess> {
  const child = spawn(binary, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--loglevel', 'warning'], { stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr?.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
  const deadline = Date.now() + 5000
  while (!(await pong(port))) {
    if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode}: ${stderr}`)
    if (Date.now() > deadline) {
      child.kill('SIGKILL')
      throw new Error(`redis-server did not answer on port ${port} within 5 s: ${stderr}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
  return child
}

/** PING on a raw socket (an ioredis client that fails to connect keeps the process alive for a while). */
export function pong (port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1', () => socket.write('PING\r\n'))
    let answer = ''
    const done = (ok: boolean): void => {
      socket.destroy()
      resolve(ok)
    }
    socket.setTimeout(500, () => done(false))
    socket.on('data', (chunk: Buffer) => {
      answer += chunk.toString()
      if (answer.includes('\r\n')) done(answer.startsWith('+PONG'))
    })
    socket.on('error', () => done(false))
  })
}

async function stop (child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  child.kill('SIGKILL')
  await exited
}

/** Polls `check` every 10 ms until it returns true; rejects after `timeoutMs` with `what`. */
export async function waitFor (what: string, check: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

/**
 * Units an upstream's shared window holds in Redis (src/store/window-scripts.ts):
 * `starts` counted per bucket, `pending` per held-until bucket; the sum of a hash's counts.
 */
export async function windowUnits (client: Redis, keyPrefix: string, upstream: string, kind: 'starts' | 'pending'): Promise<number> {
  const counts = await client.hvals(`${keyPrefix}limit:{${upstream}}:${kind}`)
  return counts.reduce((sum, count) => sum + Number(count), 0)
}

/**
 * SIGSTOP / SIGCONT to a test's redis-server: its connections stay open and it
 * accepts new ones, but answers nothing (a hung or swapping Redis). Never left
 * stopped, whatever fails.
 */
export async function redisSignaller (t: TestContext, redis: RedisServer): Promise<(signal: 'SIGSTOP' | 'SIGCONT') => void> {
  const pid = Number(/process_id:(\d+)/.exec(await redis.client.info('server'))?.[1])
  if (!(pid > 0)) throw new Error('no process_id in INFO server')
  t.after(() => { try { process.kill(pid, 'SIGCONT') } catch {} })
  return (signal) => process.kill(pid, signal)
}
