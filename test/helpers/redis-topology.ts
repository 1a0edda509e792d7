/**
 * Redis as production runs it, for one test file, on loopback: a TLS-only
 * server (a PKI the test made), a primary with a replica watched by three
 * sentinels, a three-primary cluster. Every process is killed when the test
 * ends, whatever failed; every wait is bounded. Without redis-server the
 * test skips (in CI it fails: `.ci/run` installs it).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TestContext } from 'node:test'
import { Cluster, Redis, type RedisOptions } from 'ioredis'
import type { Pki } from './pki.js'
import { freePort, pong, redisServerBinary, waitFor } from './redis-server.js'

export interface RedisProcess {
  readonly port: number
  /** SIGKILL, and wait for the exit: a crash, no goodbye to the clients. */
  kill (): Promise<void>
}

/** The redis-server binary, or undefined after skipping the test (a failure in CI). */
export function redisBinary (t: TestContext): string | undefined {
  const binary = redisServerBinary()
  if (binary !== undefined) return binary
  if (process.env.CI === 'true') throw new Error('redis-server not found, and CI=true: the Redis tests must run')
  t.skip('redis-server not found: install it (apt-get install redis-server) to run the Redis tests')
  return undefined
}

/** A folder for config files and certificates, removed when the test ends. */
export function scratchDir (t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-redis-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

/**
 * Start `binary args`, killed when the test ends; resolves once `ready()`
 * says so (within 10 s), rejects with its stderr when it exits first.
 */
export async function spawnRedis (t: TestContext, binary: string, port: number, args: readonly string[], ready: () => Promise<boolean> = () => pong(port)): Promise<RedisProcess> {
  const child = spawn(binary, [...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout?.on('data', (chunk: Buffer) => { output = (output + chunk.toString()).slice(-4000) })
  child.stderr?.on('data', (chunk: Buffer) => { output = (output + chunk.toString()).slice(-4000) })
  const kill = (): Promise<void> => stop(child)
  t.after(kill)
  const deadline = Date.now() + 10_000
  while (!(await ready())) {
    if (child.exitCode !== null) throw new Error(`redis-server ${args.slice(0, 2).join(' ')} exited with ${child.exitCode}: ${output}`)
    if (Date.now() > deadline) throw new Error(`redis-server on port ${port} was not ready within 10 s: ${output}`)
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
  return { port, kill }
}

async function stop (child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  child.kill('SIGKILL')
  await exited
}

const NO_PERSISTENCE = ['--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--loglevel', 'warning']

/** Whether a fresh client with `options` connects and gets PONG (tried once, no retries). */
async function answers (options: RedisOptions): Promise<boolean> {
  const client = new Redis({ host: '127.0.0.1', ...options, lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0, connectTimeout: 1000 })
  client.on('error', () => {})
  try {
    await client.connect()
    return (await client.ping()) === 'PONG'
  } catch {
    return false
  } finally {
    client.disconnect()
  }
}

/** An ioredis client for the test's own looks, closed when the test ends; it never retries for long. */
export function testClient (t: TestContext, options: RedisOptions): Redis {
  const client = new Redis({ host: '127.0.0.1', maxRetriesPerRequest: 1, retryStrategy: () => 100, ...options })
  client.on('error', () => {})
  t.after(() => client.disconnect())
  return client
}

export interface PlainRedis {
  readonly port: number
  /** `redis://127.0.0.1:PORT`, no credentials. */
  readonly url: string
  /** A client of the default user (authenticated with `requirepass`). */
  readonly client: Redis
}

/** redis-server whose default user needs `requirepass`: a client without credentials (or with wrong ones) is refused. */
export async function startPasswordRedis (t: TestContext, requirepass: string): Promise<PlainRedis | undefined> {
  const binary = redisBinary(t)
  if (binary === undefined) return undefined
  const port = await freePort()
  await spawnRedis(t, binary, port, ['--port', String(port), ...NO_PERSISTENCE, '--requirepass', requirepass], () => answers({ port, password: requirepass }))
  return { port, url: `redis://127.0.0.1:${port}`, client: testClient(t, { port, password: requirepass }) }
}

export interface TlsRedis {
  readonly port: number
  /** `rediss://127.0.0.1:PORT` */
  readonly url: string
  /** A TLS client with the test CA (and the client certificate). */
  readonly client: Redis
}

/**
 * redis-server with TLS only (`--port 0`): a server certificate from `pki`
 * for 127.0.0.1; with `clientCertificates`, a client must present one the
 * same CA signed (`--tls-auth-clients yes`).
 */
export async function startTlsRedis (t: TestContext, pki: Pki, options: { readonly clientCertificates?: boolean } = {}): Promise<TlsRedis | undefined> {
  const binary = redisBinary(t)
  if (binary === undefined) return undefined
  const dir = scratchDir(t)
  const file = (name: string, pem: string): string => {
    writeFileSync(join(dir, name), pem, { mode: 0o600 })
    return join(dir, name)
  }
  const port = await freePort()
  const clientOptions: RedisOptions = { port, tls: { ca: pki.ca, cert: pki.clientCert, key: pki.clientKey } }
  await spawnRedis(t, binary, port, [
    '--port', '0', '--tls-port', String(port), ...NO_PERSISTENCE,
    '--tls-cert-file', file('server.pem', pki.serverCert), '--tls-key-file', file('server.key', pki.serverKey),
    '--tls-ca-cert-file', file('ca.pem', pki.ca), '--tls-auth-clients', options.clientCertificates === true ? 'yes' : 'no'
  ], () => answers(clientOptions))
  return { port, url: `rediss://127.0.0.1:${port}`, client: testClient(t, clientOptions) }
}

export interface TlsSentinel {
  readonly name: string
  /** `127.0.0.1:PORT` of the one sentinel: store.sentinels. */
  readonly sentinels: readonly string[]
  /** The TLS primary it watches. */
  readonly primary: TlsRedis
}

/**
 * A TLS-only primary and one TLS-only sentinel watching it (quorum 1), both
 * with the server certificate from `pki`; the sentinel reaches the primary
 * over TLS too (`tls-replication yes`). Resolves once the sentinel names it.
 */
export async function startTlsSentinel (t: TestContext, pki: Pki): Promise<TlsSentinel | undefined> {
  const primary = await startTlsRedis(t, pki)
  const binary = redisBinary(t)
  if (primary === undefined || binary === undefined) return undefined
  const dir = scratchDir(t)
  const file = (name: string, pem: string): string => {
    writeFileSync(join(dir, name), pem, { mode: 0o600 })
    return join(dir, name)
  }
  const name = 'tollgate-tls-primary'
  const port = await freePort()
  const conf = join(dir, 'sentinel.conf')
  writeFileSync(conf, [
    'port 0', `tls-port ${port}`, 'bind 127.0.0.1', `dir ${dir}`,
    `tls-cert-file ${file('server.pem', pki.serverCert)}`, `tls-key-file ${file('server.key', pki.serverKey)}`, `tls-ca-cert-file ${file('ca.pem', pki.ca)}`,
    'tls-auth-clients no', 'tls-replication yes',
    `sentinel monitor ${name} 127.0.0.1 ${primary.port} 1`, ''
  ].join('\n'))
  const tls = { ca: pki.ca }
  await spawnRedis(t, binary, port, [conf, '--sentinel', '--loglevel', 'warning'], () => answers({ port, tls }))
  const sentinel = testClient(t, { port, tls })
  await waitFor('the sentinel to see the primary up', async () => {
    const fields = await sentinel.call('SENTINEL', 'MASTER', name) as string[]
    return fields[fields.indexOf('flags') + 1] === 'master'
  }, 10_000)
  return { name, sentinels: [`127.0.0.1:${port}`], primary }
}

export interface SentinelSetOptions {
  /** requirepass on the primary and the replica (the sentinels get it as auth-pass). */
  readonly password?: string
  /** requirepass on the sentinels (they get it as sentinel-pass for each other). */
  readonly sentinelPassword?: string
  /** down-after-milliseconds: how long a silent primary takes to be judged down. */
  readonly downAfterMs?: number
}

export interface SentinelSet {
  /** The name the sentinels monitor the primary under. */
  readonly name: string
  /** `127.0.0.1:PORT` of each sentinel: store.sentinels. */
  readonly sentinels: readonly string[]
  /** The data nodes by port: the first primary and its replica. */
  readonly nodes: ReadonlyMap<number, RedisProcess>
  /** A client to the first sentinel. */
  readonly sentinel: Redis
  /** A client to each sentinel, in the order of `sentinels`. */
  readonly sentinelClients: readonly Redis[]
  /** The primary's port, as the first sentinel names it now. */
  primaryPort (): Promise<number>
  /** A client to the data node on `port`. */
  client (port: number): Redis
}

/**
 * A primary, one replica, three sentinels (quorum 2) on loopback; resolves
 * once every sentinel knows the replica and the two other sentinels, so a
 * failover can start at once.
 */
export async function startSentinelSet (t: TestContext, options: SentinelSetOptions = {}): Promise<SentinelSet | undefined> {
  const binary = redisBinary(t)
  if (binary === undefined) return undefined
  const dir = scratchDir(t)
  const name = 'tollgate-primary'
  const auth = options.password === undefined ? [] : ['--requirepass', options.password, '--masterauth', options.password]
  const [primary, replica, ...sentinelPorts] = await Promise.all([0, 1, 2, 3, 4].map(() => freePort())) as [number, number, number, number, number]
  const sentinelClients = new Map<number, Redis>()
  const dataClient = (port: number): Redis => testClient(t, { port, ...(options.password === undefined ? {} : { password: options.password }) })
  const nodes = new Map<number, RedisProcess>()
  const authed = (port: number) => () => answers({ port, ...(options.password === undefined ? {} : { password: options.password }) })
  // Their own folder: a replica's full sync writes the primary's snapshot to dump.rdb in its working folder (here the checkout's).
  nodes.set(primary, await spawnRedis(t, binary, primary, ['--port', String(primary), ...NO_PERSISTENCE, '--dir', dir, '--dbfilename', `dump-${primary}.rdb`, ...auth], authed(primary)))
  nodes.set(replica, await spawnRedis(t, binary, replica, ['--port', String(replica), ...NO_PERSISTENCE, '--dir', dir, '--dbfilename', `dump-${replica}.rdb`, ...auth, '--replicaof', '127.0.0.1', String(primary)], authed(replica)))
  await Promise.all(sentinelPorts.map(async (port) => {
    const conf = join(dir, `sentinel-${port}.conf`)
    // Sentinel rewrites its config file: it must be its own, and writable.
    writeFileSync(conf, [
      `port ${port}`,
      'bind 127.0.0.1',
      `dir ${dir}`,
      `sentinel monitor ${name} 127.0.0.1 ${primary} 2`,
      `sentinel down-after-milliseconds ${name} ${options.downAfterMs ?? 1000}`,
      `sentinel failover-timeout ${name} 10000`,
      ...(options.password === undefined ? [] : [`sentinel auth-pass ${name} ${options.password}`]),
      ...(options.sentinelPassword === undefined ? [] : [`requirepass ${options.sentinelPassword}`, `sentinel sentinel-pass ${options.sentinelPassword}`]),
      ''
    ].join('\n'))
    await spawnRedis(t, binary, port, [conf, '--sentinel', '--loglevel', 'warning'], () => answers({ port, ...(options.sentinelPassword === undefined ? {} : { password: options.sentinelPassword }) }))
  }))
  function sentinelClient (port: number): Redis {
    let client = sentinelClients.get(port)
    if (client === undefined) {
      client = testClient(t, { port, ...(options.sentinelPassword === undefined ? {} : { password: options.sentinelPassword }) })
      sentinelClients.set(port, client)
    }
    return client
  }
  await waitFor('every sentinel to know the replica and the two other sentinels', async () => {
    const views = await Promise.all(sentinelPorts.map(async (port) => {
      const client = sentinelClient(port)
      const [replicas, sentinels] = await Promise.all([client.call('SENTINEL', 'REPLICAS', name), client.call('SENTINEL', 'SENTINELS', name)]) as [unknown[], unknown[]]
      return replicas.length === 1 && sentinels.length === 2
    }))
    return views.every(Boolean)
  }, 15_000)
  const first = sentinelClient(sentinelPorts[0] as number)
  const clients = new Map<number, Redis>()
  return {
    name,
    sentinels: sentinelPorts.map((port) => `127.0.0.1:${port}`),
    nodes,
    sentinel: first,
    sentinelClients: sentinelPorts.map(sentinelClient),
    async primaryPort () {
      const [, port] = await first.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', name) as [string, string]
      return Number(port)
    },
    client (port) {
      let client = clients.get(port)
      if (client === undefined) {
        client = dataClient(port)
        clients.set(port, client)
      }
      return client
    }
  }
}

export interface RedisClusterSet {
  /** `redis://127.0.0.1:PORT` of each primary: store.cluster. */
  readonly nodes: readonly string[]
  /** A cluster client for the test's own looks. */
  readonly client: Cluster
  /** One client per node (INFO errorstats, say). */
  readonly direct: readonly Redis[]
}

/** Three primaries, no replicas, slots spread by `redis-cli --cluster create`; resolves once every node says cluster_state:ok. */
export async function startRedisCluster (t: TestContext): Promise<RedisClusterSet | undefined> {
  const binary = redisBinary(t)
  if (binary === undefined) return undefined
  const cli = ['/usr/bin/redis-cli', 'redis-cli'].find((candidate) => spawnSync(candidate, ['--version']).status === 0)
  if (cli === undefined) throw new Error('redis-cli not found (Debian\'s redis-tools): it makes the cluster')
  const dir = scratchDir(t)
  const ports = await Promise.all([0, 1, 2].map(() => freePort()))
  // Each node's cluster bus on a free port of its own: by default it is the port + 10000, which
  // another process may hold (or which is past 65535 for a high ephemeral port).
  const busPorts = await Promise.all(ports.map(() => freePort()))
  await Promise.all(ports.map((port, i) => spawnRedis(t, binary, port, [
    '--port', String(port), ...NO_PERSISTENCE, '--dir', dir,
    '--cluster-enabled', 'yes', '--cluster-port', String(busPorts[i]), '--cluster-config-file', `nodes-${port}.conf`, '--cluster-node-timeout', '2000'
  ])))
  const created = spawnSync(cli, ['--cluster', 'create', ...ports.map((port) => `127.0.0.1:${port}`), '--cluster-yes'], { encoding: 'utf8', timeout: 20_000 })
  if (created.status !== 0) throw new Error(`redis-cli --cluster create failed (${created.status ?? created.signal}): ${created.stdout}${created.stderr}`)
  const direct = ports.map((port) => testClient(t, { port }))
  await waitFor('every node to say cluster_state:ok', async () => {
    const infos = await Promise.all(direct.map((client) => client.call('CLUSTER', 'INFO') as Promise<string>))
    return infos.every((info) => info.includes('cluster_state:ok'))
  }, 15_000)
  const client = new Cluster(ports.map((port) => ({ host: '127.0.0.1', port })), { clusterRetryStrategy: () => 100 })
  client.on('error', () => {})
  t.after(() => client.disconnect())
  return { nodes: ports.map((port) => `redis://127.0.0.1:${port}`), client, direct }
}
