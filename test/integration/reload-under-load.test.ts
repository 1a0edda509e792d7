/**
 * Reloads while apps keep calling (issue 19 part 4): concurrent clients on
 * keep-alive connections, several reloads that change what the requests
 * carry, add and remove an upstream nobody calls, and move limits and log
 * level; not one request fails, each one carries exactly one generation's
 * headers (a request uses one config from start to end), and the token is
 * fetched once.
 */
import { test, type TestContext } from 'node:test'
import { Agent, request } from 'undici'
import { startOrigin } from '../helpers/origin.js'
import { configReadings, reloadTo } from '../helpers/reload.js'
import { startSidecar } from '../helpers/sidecar.js'
import { startTokenEndpoint, tokenReply } from '../helpers/token-endpoint.js'

const CLIENTS = 8
const RELOADS = 6
const SECRET = 'under-load-client-secret'

test('several reloads under concurrent load: zero failed requests, one generation per request, one token fetch', { timeout: 60_000 }, async (t: TestContext) => {
  const endpoint = await startTokenEndpoint(t, () => tokenReply('under-load-token', 3600))
  // Answers after 0-20 ms, so requests are in flight across every switch; tells back the generation header it got.
  const origin = await startOrigin(t, (req, res) => {
    req.resume()
    setTimeout(() => res.end(JSON.stringify({ a: req.headers['x-generation'] ?? null, b: req.headers['x-generation-copy'] ?? null })), Math.floor(Math.random() * 20))
  })
  const upstream = (generation: number, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
    target: origin.url,
    headers: { 'X-Generation': String(generation), 'X-Generation-Copy': String(generation) },
    auth: { type: 'oauth2_client_credentials', tokenUrl: endpoint.url, clientId: 'load-client', clientSecret: SECRET },
    rateLimit: { requests: 100_000, window: '1s', maxConcurrent: 4 + generation },
    ...extra
  })
  const raw = (generation: number): Record<string, unknown> => ({
    server: { shutdownGrace: '5s', bodyLimit: `${64 + generation}kb` },
    log: { level: generation % 2 === 0 ? 'info' : 'debug' },
    upstreams: {
      vendor: upstream(generation, { timeout: `${10 + generation}s` }),
      // An upstream nobody calls comes and goes.
      ...(generation % 2 === 1 ? { spare: { target: origin.url } } : {})
    }
  })
  const sidecar = await startSidecar(t, raw(0))

  const agent = new Agent({ connections: CLIENTS, keepAliveTimeout: 10_000 })
  t.after(() => agent.close())
  const outcomes: Array<{ status: number, generation: string | null, copy: string | null } | { error: string }> = []
  const run = { stopped: false }
  const client = async (): Promise<void> => {
    while (!run.stopped) {
      try {
        const res = await request(`${sidecar.url}/vendor/Patient`, { dispatcher: agent })
        const body = await res.body.text()
        const seen = res.statusCode === 200 ? JSON.parse(body) as { a: string | null, b: string | null } : { a: null, b: null }
        outcomes.push({ status: res.statusCode, generation: seen.a, copy: seen.b })
      } catch (err) {
        outcomes.push({ error: (err as Error).message })
      }
    }
  }
  const clients = Array.from({ length: CLIENTS }, client)

  const reports: string[] = []
  const until = async (count: number): Promise<void> => {
    const deadline = performance.now() + 10_000
    while (outcomes.length < count && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5))
  }
  for (let generation = 1; generation <= RELOADS; generation++) {
    // Some traffic on each generation before the next switch.
    await until(outcomes.length + 40)
    reports.push((await reloadTo(sidecar.sidecar, raw(generation))).result)
  }
  await until(outcomes.length + 40)
  run.stopped = true
  await Promise.all(clients)

  const failed = outcomes.filter((outcome) => 'error' in outcome || outcome.status !== 200)
  t.assert.deepStrictEqual(failed.slice(0, 5), [], `${failed.length} of ${outcomes.length} requests failed`)
  t.assert.deepStrictEqual(reports, Array.from({ length: RELOADS }, () => 'applied'))
  const generations = new Set(outcomes.map((outcome) => 'generation' in outcome ? outcome.generation : null))
  t.assert.deepStrictEqual([...generations].sort(), Array.from({ length: RELOADS + 1 }, (_, i) => String(i)), 'every generation served requests')
  const mixed = outcomes.filter((outcome) => 'generation' in outcome && outcome.generation !== outcome.copy)
  t.assert.strictEqual(mixed.length, 0, 'a request carried headers of two generations')
  t.assert.strictEqual(endpoint.requests.length, 1, 'one token for the whole run: the upstream kept its credentials')
  const readings = await configReadings(sidecar.url)
  t.assert.deepStrictEqual([readings.generation, readings.generationMetric, readings.reloads.applied], [RELOADS + 1, RELOADS + 1, RELOADS])
  t.assert.ok(!sidecar.logs.text().includes(SECRET) && !sidecar.logs.text().includes('under-load-token'), 'a secret or the token reached the log')
  t.assert.ok(!sidecar.logs.entries().some((entry) => entry.level as number >= 50), 'an error line was logged')
  t.assert.ok(!sidecar.logs.text().includes('still under way at server.shutdownGrace'), 'a previous generation had to be cut')
})
