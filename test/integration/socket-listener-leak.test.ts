/**
 * Issue 14 part 8: a replica under store timeouts printed
 * `MaxListenersExceededWarning: 11 close listeners added to [Socket]`.
 *
 * The socket was the Redis command connection. Every request answered while
 * Redis hung recorded its start there (a script per answer: the stamp, now
 * the window settle); those commands timed out together, and each failure
 * called `client.disconnect(true)` to rebuild the connection
 * (RedisConnection.failed, from 3aaf6d7 and before up to 66da86e). ioredis' disconnect adds a
 * 'close' listener (and a timer) to the socket on every call
 * (connectors/AbstractConnector.js, redis/ioredis#1792), and a socket to a
 * Redis that answers nothing stays open until disconnectTimeout ends it: one
 * listener per request. Since c0b7d69 a failed command no longer drops the
 * connection (only a lost store does), and `dropConnection`
 * (src/store/redis-client.ts) drops a socket at most once however often it
 * is asked.
 *
 * The first two tests send their requests pipelined over ONE keep-alive
 * connection to the sidecar and count the 'close' listeners of every socket
 * the process opens or accepts (app-facing, upstream, token endpoint, Redis)
 * while they run. Node's own bookkeeping holds one to three; a leak holds
 * one per request. The warning guard (test/helpers/warning-guard.ts) fails
 * the file on the warning too; the assertions say which socket.
 */
import diagnostics from 'node:diagnostics_channel'
import { createServer, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { test, type TestContext } from 'node:test'
import { Redis } from 'ioredis'
import { Client } from 'undici'
import { dropConnection } from '../../src/store/redis-client.js'
import { startRedis, waitFor } from '../helpers/redis-server.js'
import { startSidecar } from '../helpers/sidecar.js'
import { startTokenEndpoint, tokenReply } from '../helpers/token-endpoint.js'

const REQUESTS = 24
/** Node's HTTP server, undici and ioredis each hold one to three per socket; a leak holds one per request. */
const MOST_CLOSE_LISTENERS = 4

/**
 * Every socket this process connects or accepts from now on, with the most
 * 'close' listeners each has held (sampled every 2 ms, and once more at the end).
 */
function watchSockets (t: TestContext): () => Array<{ socket: string, most: number }> {
  const sockets = new Map<Socket, { name: string, most: number }>()
  const track = ({ socket }: { socket: Socket }): void => { sockets.set(socket, { name: '', most: 0 }) }
  diagnostics.subscribe('net.client.socket', track as (message: unknown) => void)
  diagnostics.subscribe('net.server.socket', track as (message: unknown) => void)
  const sample = (): void => {
    for (const [socket, seen] of sockets) {
      if (seen.name === '' && socket.remotePort !== undefined) seen.name = `:${socket.localPort} -> :${socket.remotePort}`
      seen.most = Math.max(seen.most, socket.listenerCount('close'))
    }
  }
  const timer = setInterval(sample, 2)
  t.after(() => {
    clearInterval(timer)
    diagnostics.unsubscribe('net.client.socket', track as (message: unknown) => void)
    diagnostics.unsubscribe('net.server.socket', track as (message: unknown) => void)
  })
  return () => {
    sample()
    return [...sockets.values()].map(({ name, most }) => ({ socket: name, most }))
  }
}

/** Every MaxListenersExceededWarning this process raises from now on. */
function watchWarnings (t: TestContext): Error[] {
  const seen: Error[] = []
  const listener = (warning: Error): void => { if (warning.name === 'MaxListenersExceededWarning') seen.push(warning) }
  process.on('warning', listener)
  t.after(() => { process.off('warning', listener) })
  return seen
}

/** An upstream that answers at once, or after `hold()` holds every answer until `release()`; its connections are kept open (long-lived too). */
async function startOrigin (t: TestContext, status: (authorization: string | undefined) => number = () => 200): Promise<{ url: string, held: () => number, hold: () => void, release: () => void }> {
  let held: Array<{ res: ServerResponse, status: number }> = []
  let holding = false
  const server = createServer((req, res) => {
    req.resume()
    const answer = { res, status: status(req.headers.authorization) }
    if (holding) held.push(answer)
    else res.writeHead(answer.status).end('ok')
  })
  // Longer than undici's keep-alive threshold (2 s): the sidecar reuses its upstream connections.
  server.keepAliveTimeout = 30_000
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.after(async () => {
    server.closeAllConnections()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  })
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    held: () => held.length,
    hold () { holding = true },
    release () {
      holding = false
      for (const { res, status } of held) res.writeHead(status).end('ok')
      held = []
    }
  }
}

/** One keep-alive connection to the sidecar that pipelines GETs (undici holds a GET back from the pipeline unless `blocking: false`). */
function pipelinedClient (t: TestContext, url: string): (path: string) => Promise<number> {
  const client = new Client(url, { pipelining: REQUESTS })
  t.after(() => client.close())
  return async (path) => {
    const res = await client.request({ path, method: 'GET', blocking: false })
    await res.body.dump()
    return res.statusCode
  }
}

function assertBounded (t: TestContext, counts: Array<{ socket: string, most: number }>, warnings: readonly Error[]): void {
  t.diagnostic(`most 'close' listeners per socket: ${counts.map(({ socket, most }) => `${socket || '(closed unsampled)'} ${most}`).join(', ')}`)
  t.assert.deepStrictEqual(warnings.map((w) => w.message), [], 'no MaxListenersExceededWarning')
  const over = counts.filter(({ most }) => most > MOST_CLOSE_LISTENERS)
  t.assert.deepStrictEqual(over, [], `no socket held more than ${MOST_CLOSE_LISTENERS} 'close' listeners (${counts.length} sockets watched)`)
}

test(`Redis hung while ${REQUESTS} pipelined requests are at the upstream: their window commands time out together, the store is lost, and no socket gains a listener per request`, async (t: TestContext) => {
  // From the start: the sidecar's Redis connections are made when it starts.
  const counts = watchSockets(t)
  const warnings = watchWarnings(t)
  const redis = await startRedis(t)
  if (redis === undefined) return
  const pid = Number(/process_id:(\d+)/.exec(await redis.client.info('server'))?.[1])
  t.assert.ok(pid > 0, 'redis-server pid')
  // Never leave it stopped, whatever fails.
  t.after(() => { try { process.kill(pid, 'SIGCONT') } catch {} })
  const origin = await startOrigin(t)
  const tokenEndpoint = await startTokenEndpoint(t, () => tokenReply('leak-test-token', 3600))
  const sidecar = await startSidecar(t, {
    store: { type: 'redis', url: redis.url, keyPrefix: 'leak-test:', onUnavailable: 'local' },
    upstreams: {
      vendor: {
        target: origin.url,
        auth: { type: 'oauth2_client_credentials', tokenUrl: tokenEndpoint.url, clientId: 'leak-client', clientSecret: 'leak-secret-31' },
        rateLimit: { requests: 1000, window: '30s' }
      }
    }
  })
  const get = pipelinedClient(t, sidecar.url)
  t.assert.strictEqual(await get('/vendor/warm'), 200, 'the token and the shared window are in place')

  origin.hold()
  const answers = Promise.all(Array.from({ length: REQUESTS }, (_, i) => get(`/vendor/r/${i}`)))
  // Every request holds a permit Redis granted; then Redis stops answering, its connections open.
  await waitFor(`all ${REQUESTS} requests at the upstream`, () => origin.held() === REQUESTS)
  process.kill(pid, 'SIGSTOP')
  // Each answer records its start in the shared window: REQUESTS scripts on one hung socket, timing out together (store.commandTimeout, 1 s).
  origin.release()
  t.assert.deepStrictEqual(new Set(await answers), new Set([200]), 'every request answered')
  await waitFor('the window commands to time out', () => sidecar.logs.text().includes('timed out'), 4000)
  // Still hung: the store is declared lost (store.unavailableAfter, 3 s) and its connection dropped and made again.
  await waitFor('the store to be declared lost', () => sidecar.logs.text().includes('shared store unavailable'), 8000)
  // Past disconnectTimeout (200 ms): a socket being dropped has closed by now, and a reconnection was tried.
  await new Promise((resolve) => setTimeout(resolve, 500))
  assertBounded(t, counts(), warnings)
  t.assert.ok(counts().some(({ socket }) => socket.endsWith(`:${redis.port}`)), 'the Redis sockets were watched')
})

test(`no Redis: ${REQUESTS} pipelined requests wait on a slow token, a queued limiter and 401 retries, and no socket gains a listener per request`, async (t: TestContext) => {
  // The first token serves four requests, then is revoked: the requests still carrying it get a 401, and are retried with a new one.
  let servedByFirst = 0
  const origin = await startOrigin(t, (authorization) => {
    if (authorization !== 'Bearer leak-test-token-0') return 200
    return ++servedByFirst > 4 ? 401 : 200
  })
  const tokenEndpoint = await startTokenEndpoint(t, async (_request, index) => {
    await new Promise((resolve) => setTimeout(resolve, 50))
    return tokenReply(`leak-test-token-${index}`, 3600)
  })
  const sidecar = await startSidecar(t, {
    upstreams: {
      vendor: {
        target: origin.url,
        auth: { type: 'oauth2_client_credentials', tokenUrl: tokenEndpoint.url, clientId: 'leak-client', clientSecret: 'leak-secret-31' },
        // Eight starts per 200 ms: most requests wait in the limiter's queue (and a retry queues again).
        rateLimit: { requests: 8, window: '200ms', maxWait: '10s' }
      }
    }
  })
  const counts = watchSockets(t)
  const warnings = watchWarnings(t)
  const get = pipelinedClient(t, sidecar.url)
  const answers = await Promise.all(Array.from({ length: REQUESTS }, (_, i) => get(`/vendor/r/${i}`)))
  t.assert.deepStrictEqual(new Set(answers), new Set([200]), `answered: ${answers.join(' ')}`)
  t.assert.strictEqual(tokenEndpoint.requests.length, 2, 'the revoked token was replaced once')
  t.assert.ok(servedByFirst > 4, 'some requests were refused with the revoked token and retried')
  assertBounded(t, counts(), warnings)
})

test('dropConnection closes a socket once, however often it is asked; ioredis\' own disconnect() adds a listener per call', async (t: TestContext) => {
  const redis = await startRedis(t)
  if (redis === undefined) return
  const connect = async (): Promise<Redis> => {
    const client = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null })
    client.on('error', () => {})
    t.after(() => client.disconnect())
    await client.connect()
    return client
  }
  const ours = await connect()
  const before = ours.stream.listenerCount('close')
  // One tick, as when commands that timed out together each asked for it.
  for (let i = 0; i < 20; i++) dropConnection(ours)
  t.assert.strictEqual(ours.stream.listenerCount('close'), before + 1, 'one disconnect for twenty asks')

  // What dropConnection works around (redis/ioredis#1792). Kept under the
  // warning threshold (10), which the guard would fail. When this fails,
  // ioredis guards disconnect() itself and dropConnection's set may go.
  const raw = await connect()
  const rawBefore = raw.stream.listenerCount('close')
  for (let i = 0; i < 5; i++) raw.disconnect(true)
  t.assert.strictEqual(raw.stream.listenerCount('close'), rawBefore + 5, 'ioredis adds a close listener per disconnect(true)')
  await waitFor('both sockets to close', () => ours.status === 'end' && raw.status === 'end')
})
