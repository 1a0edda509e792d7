import { createServer, type AddressInfo } from 'node:net'
import { test, type TestContext } from 'node:test'
import { startOrigin } from '../helpers/origin.js'
import { startSidecar } from '../helpers/sidecar.js'

const PROBLEM = 'application/problem+json; charset=utf-8'

/** A loopback port that was just free and is now closed: connecting to it is refused. */
async function closedPort (): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise((resolve) => server.close(resolve))
  return port
}

test('an upstream that cannot be reached is a 502 problem naming the upstream', async (t: TestContext) => {
  t.plan(8)
  const { url } = await startSidecar(t, { upstreams: { halaxy: { target: `http://127.0.0.1:${await closedPort()}/main` } } })
  const res = await fetch(`${url}/halaxy/Patient`)
  t.assert.strictEqual(res.status, 502)
  t.assert.strictEqual(res.headers.get('content-type'), PROBLEM)
  const problem = await res.json() as Record<string, unknown>
  t.assert.strictEqual(problem.status, 502)
  t.assert.strictEqual(problem.upstream, 'halaxy')
  t.assert.strictEqual(problem.code, 'TG_UPSTREAM_UNREACHABLE')
  t.assert.strictEqual(typeof problem.type, 'string')
  t.assert.strictEqual(typeof problem.title, 'string')
  t.assert.match(String(problem.detail), /ECONNREFUSED/)
})

test('an upstream slower than its timeout (300ms) is a 504 problem, given at the timeout', async (t: TestContext) => {
  t.plan(6)
  // The origin answers after 800 ms: well after the 300 ms timeout.
  const origin = await startOrigin(t, (_req, res) => {
    const timer = setTimeout(() => res.end('too late'), 800)
    res.on('close', () => clearTimeout(timer))
  })
  const { url } = await startSidecar(t, { upstreams: { slow: { target: origin.url, timeout: '300ms' } } })
  const started = performance.now()
  const res = await fetch(`${url}/slow/x`)
  const elapsed = performance.now() - started
  t.assert.strictEqual(res.status, 504, `answered ${res.status} after ${Math.round(elapsed)} ms`)
  t.assert.strictEqual(res.headers.get('content-type'), PROBLEM)
  const problem = await res.json() as Record<string, unknown>
  t.assert.strictEqual(problem.code, 'TG_UPSTREAM_TIMEOUT')
  t.assert.strictEqual(problem.upstream, 'slow')
  t.assert.strictEqual(problem.status, 504)
  t.assert.ok(elapsed >= 290 && elapsed < 600, `the 504 came after ${Math.round(elapsed)} ms, not ~300 ms`)
})

test('an upstream that answers garbage is a 502 problem', async (t: TestContext) => {
  t.plan(3)
  const server = createServer((socket) => { socket.on('data', () => socket.end('NOT HTTP AT ALL\r\n\r\n')) })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.after(() => new Promise((resolve) => server.close(resolve)))
  const { url } = await startSidecar(t, { upstreams: { junk: { target: `http://127.0.0.1:${(server.address() as AddressInfo).port}` } } })
  const res = await fetch(`${url}/junk/x`)
  t.assert.strictEqual(res.status, 502)
  t.assert.strictEqual(res.headers.get('content-type'), PROBLEM)
  t.assert.strictEqual(((await res.json()) as { upstream: string }).upstream, 'junk')
})
