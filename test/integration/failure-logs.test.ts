/**
 * What a failure writes to the log. An expected failure (a wrong secret, a
 * refused connection, an upstream that does not answer in time) is one line
 * with `upstream`, `code` and `requestId`, and no stack at any level, not
 * even at trace; reply-from's own `response errored` line is not written.
 * A bug of tollgate's own (TG_INTERNAL) is logged at `error` with its stack,
 * whatever the level.
 */
import { createServer, type AddressInfo } from 'node:net'
import { test, type TestContext } from 'node:test'
import { startOrigin } from '../helpers/origin.js'
import { startSidecar, type RunningSidecar } from '../helpers/sidecar.js'
import { errorReply, startTokenEndpoint } from '../helpers/token-endpoint.js'

type Entry = Record<string, unknown>

const SECRET = 'wrong-secret-for-logs'
/** A JS stack frame as pino writes an `err.stack` (JSON-escaped newline, then `at`). */
const STACK_FRAME = /\\n\s+at /

async function closedPort (): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise((resolve) => server.close(resolve))
  return port
}

/** The lines of one request other than its `request completed` line. */
function failureLines (sidecar: RunningSidecar, requestId: string): Entry[] {
  return sidecar.logs.entries().filter((entry) => entry.requestId === requestId && entry.msg !== 'request completed')
}

async function problemOf (res: Response): Promise<Entry> {
  return await res.json() as Entry
}

const expected: Array<[string, string, number, (t: TestContext) => Promise<Record<string, unknown>>]> = [
  ['a wrong client secret', 'TG_TOKEN_FETCH_FAILED', 502, async (t) => {
    const endpoint = await startTokenEndpoint(t, () => errorReply(401, 'invalid_client', 'Client authentication failed'))
    const origin = await startOrigin(t)
    return { target: origin.url, auth: { type: 'oauth2_client_credentials', tokenUrl: endpoint.url, clientId: 'id', clientSecret: SECRET } }
  }],
  ['a refused connection', 'TG_UPSTREAM_UNREACHABLE', 502, async () => ({ target: `http://127.0.0.1:${await closedPort()}` })],
  ['an upstream slower than its timeout', 'TG_UPSTREAM_TIMEOUT', 504, async (t) => {
    const origin = await startOrigin(t, (_req, res) => {
      const timer = setTimeout(() => res.end('too late'), 1000)
      res.on('close', () => clearTimeout(timer))
    })
    return { target: origin.url, timeout: '200ms' }
  }]
]

for (const [name, code, status, upstream] of expected) {
  test(`${name}: one warn line with upstream, code and requestId, no stack even at trace, no "response errored"`, async (t: TestContext) => {
    t.plan(9)
    const sidecar = await startSidecar(t, { upstreams: { vendor: await upstream(t) } })
    const res = await fetch(`${sidecar.url}/vendor/Patient`, { headers: { 'x-request-id': 'expected-failure-1' } })
    t.assert.strictEqual(res.status, status)
    const problem = await problemOf(res)
    t.assert.strictEqual(problem.code, code)
    await sidecar.close()

    const lines = failureLines(sidecar, 'expected-failure-1')
    const warnings = lines.filter((entry) => (entry.level as number) >= 40)
    t.assert.strictEqual(warnings.length, 1, `one line at warn or above, not ${JSON.stringify(warnings.map((entry) => entry.msg))}`)
    const [line] = warnings as [Entry]
    t.assert.deepStrictEqual({ level: line.level, upstream: line.upstream, code: line.code, requestId: line.requestId, status: line.status },
      { level: 40, upstream: 'vendor', code, requestId: 'expected-failure-1', status })
    t.assert.strictEqual(line.detail, problem.detail, 'the line says why, as the problem does')
    const text = sidecar.logs.text()
    t.assert.doesNotMatch(text, STACK_FRAME, 'no stack trace at any level')
    t.assert.ok(!text.includes('"stack"'), 'no stack field at any level')
    t.assert.ok(!sidecar.logs.entries().some((entry) => entry.msg === 'response errored'), 'reply-from\'s line is not written')
    t.assert.ok(!text.includes(SECRET), 'no secret')
  })
}

for (const level of ['error', 'trace']) {
  test(`TG_INTERNAL (a bug of tollgate's own) is logged at error with its stack, at level ${level}`, async (t: TestContext) => {
    t.plan(7)
    const origin = await startOrigin(t)
    const sidecar = await startSidecar(t, { log: { level }, upstreams: { vendor: { target: origin.url } } })
    const runtime = sidecar.sidecar.upstreams[0]
    if (runtime === undefined) throw new Error('no upstream')
    // A credential source that breaks its contract: a bug, not an expected failure.
    runtime.credentials = { ...runtime.credentials, authorization: () => { throw new TypeError('credential source broke its contract') } }
    const res = await fetch(`${sidecar.url}/vendor/Patient`, { headers: { 'x-request-id': 'internal-bug-1' } })
    t.assert.strictEqual(res.status, 500)
    const problem = await problemOf(res)
    t.assert.strictEqual(problem.code, 'TG_INTERNAL')
    t.assert.ok(!String(problem.detail).includes('broke its contract'), 'the app is not told the internals')
    await sidecar.close()
    const lines = failureLines(sidecar, 'internal-bug-1')
    t.assert.strictEqual(lines.length, 1)
    const [line] = lines as [Entry]
    t.assert.deepStrictEqual({ level: line.level, upstream: line.upstream, code: line.code }, { level: 50, upstream: 'vendor', code: 'TG_INTERNAL' })
    const err = line.err as { stack?: string, message?: string } | undefined
    t.assert.match(String(err?.stack), /TypeError: credential source broke its contract\n\s+at /)
    t.assert.strictEqual(origin.requests.length, 0)
  })
}

test('an app that hangs up (waiting for a token, or with its request in flight) is no error: no line above debug, no stack', async (t: TestContext) => {
  t.plan(6)
  const endpoint = await startTokenEndpoint(t, async () => {
    await new Promise((resolve) => setTimeout(resolve, 300))
    return { body: { access_token: 'late-token-value', token_type: 'Bearer', expires_in: 3600 } }
  })
  const origin = await startOrigin(t, (_req, res) => {
    const timer = setTimeout(() => res.end('late'), 400)
    res.on('close', () => clearTimeout(timer))
  })
  const sidecar = await startSidecar(t, {
    upstreams: {
      tokened: { target: origin.url, auth: { type: 'oauth2_client_credentials', tokenUrl: endpoint.url, clientId: 'id', clientSecret: SECRET } },
      plain: { target: origin.url }
    }
  })
  const waiting = fetch(`${sidecar.url}/tokened/a`, { headers: { 'x-request-id': 'gone-waiting' }, signal: AbortSignal.timeout(50) }).catch(() => undefined)
  const inFlight = fetch(`${sidecar.url}/plain/b`, { headers: { 'x-request-id': 'gone-in-flight' }, signal: AbortSignal.timeout(100) }).catch(() => undefined)
  await Promise.all([waiting, inFlight])
  // The token arrives after the app left; the in-flight request is aborted.
  await endpoint.waitForRequests(1)
  await new Promise((resolve) => setTimeout(resolve, 400))
  await sidecar.close()
  for (const id of ['gone-waiting', 'gone-in-flight']) {
    const lines = failureLines(sidecar, id)
    t.assert.deepStrictEqual(lines.filter((entry) => (entry.level as number) > 20).map((entry) => [entry.level, entry.msg, entry.code]), [], id)
    t.assert.ok(lines.some((entry) => entry.level === 20 && entry.msg === 'client went away'), `${id}: said at debug`)
  }
  t.assert.doesNotMatch(sidecar.logs.text(), STACK_FRAME)
  t.assert.ok(!sidecar.logs.text().includes('"stack"'))
})
