/**
 * One request's life through the sidecar when the app hangs up, or the
 * vendor pauses for longer than the app is willing to wait (issue 14).
 * Real sidecar, a real (slow) token endpoint, a counted origin.
 */
import { test, type TestContext } from 'node:test'
import { startSidecar, type RunningSidecar } from '../helpers/sidecar.js'
import { eventually, startCountedOrigin, type CountedOrigin } from '../helpers/hostile.js'
import { startTokenEndpoint, tokenReply, type TokenEndpoint } from '../helpers/token-endpoint.js'
import { startRedis } from '../helpers/redis-server.js'

/** Each test runs on the memory store and on a real Redis: one life, whichever store. */
type Store = 'memory' | 'redis'
const STORES: readonly Store[] = ['memory', 'redis']

async function storeConfig (t: TestContext, store: Store): Promise<Record<string, unknown>> {
  if (store === 'memory') return {}
  const redis = await startRedis(t)
  if (redis === undefined) throw new Error('unreachable: startRedis skips or throws')
  return { store: { type: 'redis', url: redis.url, keyPrefix: 'request-life:' } }
}

const TOKEN_DELAY_MS = 700

async function slowTokenRig (t: TestContext, store: Store, rateLimit: Record<string, unknown>): Promise<{ sidecar: RunningSidecar, origin: CountedOrigin, tokens: TokenEndpoint }> {
  const origin = await startCountedOrigin(t)
  const tokens = await startTokenEndpoint(t, async (_req, index) => {
    await new Promise((resolve) => setTimeout(resolve, TOKEN_DELAY_MS))
    return tokenReply(`token-${index}`, 3600)
  })
  const sidecar = await startSidecar(t, {
    ...await storeConfig(t, store),
    log: { level: 'warn' },
    upstreams: {
      a: {
        target: origin.url,
        rateLimit,
        auth: { type: 'oauth2_client_credentials', tokenUrl: tokens.url, clientId: 'id', clientSecret: 'request-life-secret' }
      }
    }
  })
  return { sidecar, origin, tokens }
}

/** Three apps that give up 150 ms into the token fetch. */
async function hangUpDuringTokenFetch (url: string): Promise<void> {
  await Promise.all([0, 1, 2].map(async () => {
    await fetch(`${url}/a/gone`, { signal: AbortSignal.timeout(150) }).then((res) => res.arrayBuffer(), () => undefined)
  }))
}

async function pausingRig (t: TestContext, store: Store, retryAfter: string): Promise<{ sidecar: RunningSidecar, origin: CountedOrigin }> {
  const origin = await startCountedOrigin(t, (req, res) => {
    req.resume()
    req.on('end', () => {
      if (req.url === '/slow-down') res.writeHead(429, { 'retry-after': retryAfter, 'content-type': 'text/plain' }).end('slow down')
      else res.end('ok')
    })
  })
  const sidecar = await startSidecar(t, {
    ...await storeConfig(t, store),
    log: { level: 'warn' },
    upstreams: { a: { target: origin.url, rateLimit: { requests: 1000, window: '1s', maxWait: '3s' }, retry: { on429: 2 } } }
  })
  return { sidecar, origin }
}

for (const store of STORES) {
  test(`${store}: apps that hang up while the token is fetched hold no concurrency slot and send nothing upstream`, async (t: TestContext) => {
    const { sidecar, origin } = await slowTokenRig(t, store, { requests: 1000, window: '1s', maxConcurrent: 1, maxWait: '1s' })
    const limiter = sidecar.sidecar.upstreams[0]!.limiter
    await hangUpDuringTokenFetch(sidecar.url)
    // Let the token arrive and every abandoned request run to its end.
    await new Promise((resolve) => setTimeout(resolve, TOKEN_DELAY_MS + 200))
    t.assert.ok(await eventually(() => limiter.status().running === 0), `a slot is still held: ${JSON.stringify(limiter.status())}`)
    t.assert.deepStrictEqual(origin.requests.map((r) => r.url), [], 'nothing sent for apps that had gone')
    const res = await fetch(`${sidecar.url}/a/after`, { signal: AbortSignal.timeout(3000) })
    await res.arrayBuffer()
    t.assert.strictEqual(res.status, 200, 'the next request is served')
  })

  test(`${store}: apps that hang up while the token is fetched give their window units back`, async (t: TestContext) => {
    const { sidecar, origin } = await slowTokenRig(t, store, { requests: 3, window: '3s', maxWait: '1s' })
    const limiter = sidecar.sidecar.upstreams[0]!.limiter
    await hangUpDuringTokenFetch(sidecar.url)
    await new Promise((resolve) => setTimeout(resolve, TOKEN_DELAY_MS + 200))
    t.assert.ok(await eventually(() => limiter.status().remaining === 3), `units still held: ${JSON.stringify(limiter.status())}`)
    t.assert.strictEqual(origin.requests.length, 0, 'nothing sent for apps that had gone')
    const answers = await Promise.all([0, 1, 2].map(async () => {
      const res = await fetch(`${sidecar.url}/a/after`, { signal: AbortSignal.timeout(3000) })
      await res.arrayBuffer()
      return res.status
    }))
    t.assert.deepStrictEqual(answers, [200, 200, 200], 'the whole window is there for the next apps')
  })

  test(`${store}: a 429 whose retry-after outlasts maxWait is passed back at once, with the vendor's retry-after`, async (t: TestContext) => {
    const { sidecar, origin } = await pausingRig(t, store, '10')
    const started = performance.now()
    const res = await fetch(`${sidecar.url}/a/slow-down`, { signal: AbortSignal.timeout(6000) })
    const body = await res.text()
    const elapsed = performance.now() - started
    t.assert.strictEqual(res.status, 429, body)
    t.assert.strictEqual(res.headers.get('retry-after'), '10')
    t.assert.strictEqual(body, 'slow down', 'the vendor\'s own answer')
    t.assert.ok(elapsed < 1000, `answered after ${Math.round(elapsed)} ms, not after maxWait`)
    t.assert.strictEqual(origin.requests.length, 1, 'no retry that could only fail')
  })

  test(`${store}: a request arriving during a pause that ends past its deadline gets 503 TG_UPSTREAM_PAUSED at once`, async (t: TestContext) => {
    const { sidecar, origin } = await pausingRig(t, store, '10')
    await (await fetch(`${sidecar.url}/a/slow-down`)).arrayBuffer()
    const limiter = sidecar.sidecar.upstreams[0]!.limiter
    const rejectedBefore = limiter.status().counters.rejected
    const started = performance.now()
    const res = await fetch(`${sidecar.url}/a/next`, { signal: AbortSignal.timeout(6000) })
    const problem = await res.json() as { code?: string }
    const elapsed = performance.now() - started
    t.assert.strictEqual(res.status, 503)
    t.assert.strictEqual(problem.code, 'TG_UPSTREAM_PAUSED')
    const retryAfter = Number(res.headers.get('retry-after'))
    t.assert.ok(retryAfter >= 9 && retryAfter <= 10, `Retry-After ${retryAfter}: the pause left, whole seconds`)
    t.assert.ok(elapsed < 500, `refused after ${Math.round(elapsed)} ms`)
    t.assert.strictEqual(limiter.status().queued, 0, 'it took no queue place')
    t.assert.strictEqual(limiter.status().counters.rejected, rejectedBefore + 1)
    t.assert.deepStrictEqual(origin.requests.map((r) => r.url), ['/slow-down'])
  })

  test(`${store}: an app that hangs up while its request is on the wire: the request is aborted, the slot freed, the unit stamped`, async (t: TestContext) => {
    let upstreamClosed: () => void = () => {}
    const closed = new Promise<void>((resolve) => { upstreamClosed = resolve })
    // The origin never answers /hang: only an abort from tollgate ends it.
    const origin = await startCountedOrigin(t, (req, res) => {
      req.resume()
      if (req.url !== '/hang') {
        res.end('ok')
        return
      }
      res.on('close', () => upstreamClosed())
    })
    const sidecar = await startSidecar(t, {
      ...await storeConfig(t, store),
      log: { level: 'warn' },
      upstreams: { a: { target: origin.url, timeout: '20s', rateLimit: { requests: 5, window: '1m', maxConcurrent: 1, maxWait: '1s' } } }
    })
    const limiter = sidecar.sidecar.upstreams[0]!.limiter
    const controller = new AbortController()
    const hanging = fetch(`${sidecar.url}/a/hang`, { signal: controller.signal }).catch(() => undefined)
    t.assert.ok(await eventually(() => origin.requests.length === 1), 'the request reached the origin')
    controller.abort()
    await hanging
    const aborted = await Promise.race([closed.then(() => true), new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 3000))])
    t.assert.ok(aborted, 'tollgate aborted the request upstream, long before its 20 s timeout')
    t.assert.ok(await eventually(() => limiter.status().running === 0), `the slot is still held: ${JSON.stringify(limiter.status())}`)
    t.assert.strictEqual(limiter.status().remaining, 4, 'the unit of a request that reached the vendor stays counted')
    const res = await fetch(`${sidecar.url}/a/after`, { signal: AbortSignal.timeout(3000) })
    await res.arrayBuffer()
    t.assert.strictEqual(res.status, 200, 'maxConcurrent 1 serves the next request')
  })

  test(`${store}: an app that hangs up between a 429 and its retry: the retry is never sent, its slot and unit come back`, async (t: TestContext) => {
    const origin = await startCountedOrigin(t, (req, res) => {
      req.resume()
      req.on('end', () => {
        if (req.url === '/pause') res.writeHead(429, { 'retry-after': '2' }).end()
        else res.end('ok')
      })
    })
    const sidecar = await startSidecar(t, {
      ...await storeConfig(t, store),
      log: { level: 'warn' },
      upstreams: { a: { target: origin.url, rateLimit: { requests: 5, window: '1m', maxConcurrent: 1, maxWait: '5s' }, retry: { on429: 1 } } }
    })
    const limiter = sidecar.sidecar.upstreams[0]!.limiter
    const controller = new AbortController()
    const waiting = fetch(`${sidecar.url}/a/pause`, { signal: controller.signal }).catch(() => undefined)
    // With a shared store the first attempt queues too, for one round trip: wait for it to be answered first.
    t.assert.ok(await eventually(() => origin.requests.length === 1), 'the first attempt reached the vendor')
    t.assert.ok(await eventually(() => limiter.status().queued === 1), `the retry waits out the pause: ${JSON.stringify(limiter.status())}`)
    controller.abort()
    await waiting
    t.assert.ok(await eventually(() => limiter.status().queued === 0 && limiter.status().running === 0), `still held: ${JSON.stringify(limiter.status())}`)
    // Wait past the pause: a retry that was still queued would go out now.
    await new Promise((resolve) => setTimeout(resolve, 2300))
    t.assert.deepStrictEqual(origin.requests.map((r) => r.url), ['/pause'], 'no retry for an app that had gone')
    t.assert.strictEqual(limiter.status().remaining, 4, 'only the attempt that was sent is counted')
  })

  test(`${store}: an app that hangs up while its 401's retry fetches a new token: nothing more is sent, and the 401 still repaired the token`, async (t: TestContext) => {
    const seen: string[] = []
    const origin = await startCountedOrigin(t, (req, res) => {
      req.resume()
      seen.push(req.headers.authorization ?? '')
      // token-0 serves one request, then is revoked: a confirmed token's 401 is repaired by a refetch
      // (a token refused on its first use is a rejection with a backoff instead: token-rejected.test.ts).
      res.writeHead(req.headers.authorization === 'Bearer token-0' && req.url !== '/first' ? 401 : 200).end()
    })
    const tokens = await startTokenEndpoint(t, async (_req, index) => {
      if (index > 0) await new Promise((resolve) => setTimeout(resolve, TOKEN_DELAY_MS))
      return tokenReply(`token-${index}`, 3600)
    })
    const sidecar = await startSidecar(t, {
      ...await storeConfig(t, store),
      log: { level: 'warn' },
      upstreams: {
        a: {
          target: origin.url,
          rateLimit: { requests: 100, window: '1m', maxConcurrent: 1 },
          auth: { type: 'oauth2_client_credentials', tokenUrl: tokens.url, clientId: 'id', clientSecret: 'request-life-secret' }
        }
      }
    })
    const limiter = sidecar.sidecar.upstreams[0]!.limiter
    const first = await fetch(`${sidecar.url}/a/first`, { signal: AbortSignal.timeout(3000) })
    await first.arrayBuffer()
    t.assert.strictEqual(first.status, 200, 'token-0 is confirmed by a first answer')
    seen.length = 0
    const controller = new AbortController()
    const gone = fetch(`${sidecar.url}/a/x`, { signal: controller.signal }).catch(() => undefined)
    t.assert.ok(await eventually(() => tokens.requests.length === 2), 'the 401 sent the retry for a new token')
    controller.abort()
    await gone
    t.assert.ok(await eventually(() => limiter.status().running === 0), `a slot is still held: ${JSON.stringify(limiter.status())}`)
    await new Promise((resolve) => setTimeout(resolve, TOKEN_DELAY_MS + 100))
    t.assert.deepStrictEqual(seen, ['Bearer token-0'], 'no retry for an app that had gone')
    const res = await fetch(`${sidecar.url}/a/after`, { signal: AbortSignal.timeout(3000) })
    await res.arrayBuffer()
    t.assert.strictEqual(res.status, 200)
    t.assert.deepStrictEqual(seen, ['Bearer token-0', 'Bearer token-1'], 'the next request uses the token the 401 caused')
    t.assert.strictEqual(tokens.requests.length, 2, 'and fetches none of its own')
  })

  test(`${store}: a pause within maxWait still queues and retries`, async (t: TestContext) => {
    const origin = await startCountedOrigin(t, (req, res) => {
      req.resume()
      req.on('end', () => {
        if (origin.requests.length === 1) res.writeHead(429, { 'retry-after': '1' }).end()
        else res.end('ok')
      })
    })
    const sidecar = await startSidecar(t, {
      ...await storeConfig(t, store),
      log: { level: 'warn' },
      upstreams: { a: { target: origin.url, rateLimit: { requests: 1000, window: '1s', maxWait: '3s' }, retry: { on429: 2 } } }
    })
    const res = await fetch(`${sidecar.url}/a/x`, { signal: AbortSignal.timeout(6000) })
    t.assert.strictEqual(res.status, 200, await res.text())
    t.assert.strictEqual(origin.requests.length, 2)
  })

  test(`${store}: an app that hangs up while queued for a slot: nothing is sent for it, nothing stays held`, async (t: TestContext) => {
    const origin = await startCountedOrigin(t, (req, res) => {
      req.resume()
      req.on('end', () => setTimeout(() => res.end('ok'), req.url === '/busy' ? 400 : 0))
    })
    const sidecar = await startSidecar(t, {
      ...await storeConfig(t, store),
      log: { level: 'warn' },
      upstreams: { a: { target: origin.url, rateLimit: { requests: 5, window: '1m', maxConcurrent: 1, maxWait: '5s' } } }
    })
    const limiter = sidecar.sidecar.upstreams[0]!.limiter
    const busy = fetch(`${sidecar.url}/a/busy`).then((res) => res.arrayBuffer())
    t.assert.ok(await eventually(() => origin.requests.length === 1), 'the first request holds the one slot')
    const controller = new AbortController()
    const queued = fetch(`${sidecar.url}/a/queued`, { signal: controller.signal }).catch(() => undefined)
    t.assert.ok(await eventually(() => limiter.status().queued === 1), `queued for the slot: ${JSON.stringify(limiter.status())}`)
    controller.abort()
    await queued
    t.assert.ok(await eventually(() => limiter.status().queued === 0), 'its queue place is freed at once')
    await busy
    t.assert.ok(await eventually(() => limiter.status().running === 0), `still held: ${JSON.stringify(limiter.status())}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
    t.assert.deepStrictEqual(origin.requests.map((r) => r.url), ['/busy'], 'nothing sent for the app that had gone')
    t.assert.strictEqual(limiter.status().remaining, 4, 'only the request that was sent holds a unit')
  })

  test(`${store}: an app that hangs up while waiting out a pause: nothing is sent for it, nothing stays held`, async (t: TestContext) => {
    const { sidecar, origin } = await pausingRig(t, store, '1')
    const limiter = sidecar.sidecar.upstreams[0]!.limiter
    // Its retries spent, the last 429 is passed back, and the upstream pauses for 1 s from then.
    const first = await fetch(`${sidecar.url}/a/slow-down`)
    await first.arrayBuffer()
    const controller = new AbortController()
    const waiting = fetch(`${sidecar.url}/a/later`, { signal: controller.signal }).catch(() => undefined)
    t.assert.ok(await eventually(() => limiter.status().queued >= 1), `waits out the pause: ${JSON.stringify(limiter.status())}`)
    controller.abort()
    await waiting
    t.assert.ok(await eventually(() => limiter.status().queued === 0 && limiter.status().running === 0), `still held: ${JSON.stringify(limiter.status())}`)
    // Past the pause: a waiter still queued would go out now.
    await new Promise((resolve) => setTimeout(resolve, 1300))
    t.assert.ok(!origin.requests.some((r) => r.url === '/later'), 'nothing sent for the app that had gone')
  })
}

/** GETs pipelined on one connection; resolves with the raw bytes once every answer's body (`<path> done`) has arrived, or at the timeout. */
async function pipelined (url: string, paths: readonly string[], timeoutMs: number): Promise<string> {
  const { hostname, port } = new URL(url)
  const { connect } = await import('node:net')
  return await new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname)
    let data = ''
    const timer = setTimeout(() => { socket.destroy(); resolve(data) }, timeoutMs)
    socket.setEncoding('latin1')
    socket.on('data', (chunk: string) => {
      data += chunk
      if ((data.match(/ done/g) ?? []).length === paths.length) { clearTimeout(timer); socket.end(); resolve(data) }
    })
    socket.on('error', (err) => { clearTimeout(timer); reject(err) })
    socket.write(paths.map((path) => `GET ${path} HTTP/1.1\r\nHost: ${hostname}:${port}\r\n\r\n`).join(''))
  })
}

for (const store of STORES) {
  test(`${store}: pipelined requests behind a retried 429 never wait for a slot their own connection holds`, async (t: TestContext) => {
    // maxConcurrent 1: the first request's 429 frees the slot; the second takes it and is answered, but its answer
    // must wait behind the first on the app's connection. The slot goes when the vendor's answer has been read whole.
    let refused = false
    const origin = await startCountedOrigin(t, (req, res) => {
      req.resume()
      req.on('end', () => {
        if (req.url === '/a-first' && !refused) {
          refused = true
          res.writeHead(429, { 'retry-after': '0', 'content-type': 'text/plain' }).end('slow down')
        } else {
          res.writeHead(200, { 'content-type': 'text/plain' }).end(`${req.url ?? ''} done`)
        }
      })
    })
    const sidecar = await startSidecar(t, {
      ...await storeConfig(t, store),
      log: { level: 'warn' },
      upstreams: { a: { target: origin.url, rateLimit: { requests: 1000, window: '1s', maxConcurrent: 1, maxWait: '6s' }, retry: { on429: 2 } } }
    })
    const started = performance.now()
    const raw = await pipelined(sidecar.url, ['/a/a-first', '/a/a-second', '/a/a-third'], 8000)
    const elapsed = performance.now() - started
    const statuses = [...raw.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => m[1])
    t.assert.deepStrictEqual(statuses, ['200', '200', '200'], raw)
    t.assert.ok(raw.indexOf('/a-first done') < raw.indexOf('/a-second done') && raw.indexOf('/a-second done') < raw.indexOf('/a-third done'), 'answers in request order')
    t.assert.ok(elapsed < 3000, `answered after ${elapsed.toFixed(0)} ms: the slot was held until maxWait (6 s)`)
    t.assert.ok(await eventually(() => sidecar.sidecar.upstreams[0]!.limiter.status().running === 0), 'every slot freed')
  })
}
