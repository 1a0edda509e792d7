// Halaxy's limiter per shared/vendors/halaxy.txt, "Rate limits": a sliding
// window on OAuth-authenticated requests, x-ratelimit-limit and
// x-ratelimit-remaining on each, 429 with retry-after (seconds) beyond it.
// The clock is injected: no sleeps.
import { test, type TestContext } from 'node:test'
import { startSandbox, type RunningSandbox, type StartSandboxOptions } from '../../src/sandbox/server.js'

interface Clock { now: number }

async function start (t: TestContext, clock: Clock, halaxy: NonNullable<NonNullable<StartSandboxOptions['vendors']>['halaxy']> = {}): Promise<RunningSandbox> {
  const sandbox = await startSandbox({ now: () => clock.now, vendors: { halaxy: { tokenTtlSeconds: 3600, ...halaxy } } })
  t.after(() => sandbox.close())
  return sandbox
}

async function token (sandbox: RunningSandbox, client = sandbox.credentials.halaxy): Promise<string> {
  const res = await fetch(sandbox.endpoints.halaxy.tokenUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ grant_type: 'client_credentials', client_id: client.clientId, client_secret: client.clientSecret })
  })
  return (await res.json() as { access_token: string }).access_token
}

async function call (sandbox: RunningSandbox, accessToken: string): Promise<{ status: number, limit: string | null, remaining: string | null, retryAfter: string | null }> {
  const res = await fetch(`${sandbox.endpoints.halaxy.target}/Patient`, { headers: { authorization: `Bearer ${accessToken}` } })
  await res.arrayBuffer()
  return { status: res.status, limit: res.headers.get('x-ratelimit-limit'), remaining: res.headers.get('x-ratelimit-remaining'), retryAfter: res.headers.get('retry-after') }
}

test('halaxy rate limit: 5 per 500 ms; the 6th gets 429 with retry-after, and the headers count down', async (t: TestContext) => {
  const clock = { now: Date.now() }
  const sandbox = await start(t, clock, { rateLimit: { requests: 5, windowMs: 500 } })
  const accessToken = await token(sandbox)

  for (let i = 1; i <= 5; i++) {
    t.assert.deepStrictEqual(await call(sandbox, accessToken), { status: 200, limit: '5', remaining: String(5 - i), retryAfter: null })
  }
  const sixth = await fetch(`${sandbox.endpoints.halaxy.target}/Patient`, { headers: { authorization: `Bearer ${accessToken}` } })
  t.assert.strictEqual(sixth.status, 429)
  t.assert.strictEqual(sixth.headers.get('retry-after'), '1')
  t.assert.strictEqual(sixth.headers.get('x-ratelimit-limit'), '5')
  t.assert.strictEqual(sixth.headers.get('x-ratelimit-remaining'), '0')
  const outcome = await sixth.json() as { resourceType: string, issue: Array<{ code: string }> }
  t.assert.strictEqual(outcome.resourceType, 'OperationOutcome')
  t.assert.strictEqual(outcome.issue[0]?.code, 'throttled')
  t.assert.strictEqual(sandbox.stats().halaxy.rateLimited, 1)

  // Once the window has passed, all five starts have left it.
  clock.now += 500
  t.assert.deepStrictEqual(await call(sandbox, accessToken), { status: 200, limit: '5', remaining: '4', retryAfter: null })
})

test('halaxy rate limit: the window slides; retry-after is the wait until the oldest start leaves, rounded up', async (t: TestContext) => {
  const clock = { now: Date.now() }
  const sandbox = await start(t, clock, { rateLimit: { requests: 3, windowMs: 60_000 } })
  const accessToken = await token(sandbox)
  const start0 = clock.now

  t.assert.strictEqual((await call(sandbox, accessToken)).status, 200) // t = 0
  clock.now = start0 + 10_000
  t.assert.strictEqual((await call(sandbox, accessToken)).status, 200) // t = 10 s
  t.assert.strictEqual((await call(sandbox, accessToken)).status, 200) // t = 10 s

  clock.now = start0 + 20_500
  // The t = 0 start leaves at 60 s: 39.5 s from now, so 40.
  t.assert.deepStrictEqual(await call(sandbox, accessToken), { status: 429, limit: '3', remaining: '0', retryAfter: '40' })

  // A refused request did not start, so it does not push the wait back.
  clock.now = start0 + 59_999
  t.assert.strictEqual((await call(sandbox, accessToken)).retryAfter, '1')
  clock.now = start0 + 60_000
  t.assert.deepStrictEqual(await call(sandbox, accessToken), { status: 200, limit: '3', remaining: '0', retryAfter: null })
  // The two t = 10 s starts are still in the window until 70 s.
  t.assert.deepStrictEqual(await call(sandbox, accessToken), { status: 429, limit: '3', remaining: '0', retryAfter: '10' })
  clock.now = start0 + 70_000
  t.assert.deepStrictEqual(await call(sandbox, accessToken), { status: 200, limit: '3', remaining: '1', retryAfter: null })
})

test('halaxy rate limit: each client has its own window; token requests and 401s are not counted', async (t: TestContext) => {
  const clock = { now: Date.now() }
  const clients = [{ clientId: 'one', clientSecret: 'one-secret' }, { clientId: 'two', clientSecret: 'two-secret' }]
  const sandbox = await start(t, clock, { clients, rateLimit: { requests: 2, windowMs: 1000 } })
  const [one, two] = clients as [typeof clients[0], typeof clients[0]]
  const tokenOne = await token(sandbox, one)
  await token(sandbox, one)
  await token(sandbox, one)

  // halaxy.txt limits "requests authenticated with OAuth": a 401 is not one, and carries no x-ratelimit-*.
  const unauthenticated = await call(sandbox, 'bogus')
  t.assert.deepStrictEqual(unauthenticated, { status: 401, limit: null, remaining: null, retryAfter: null })

  t.assert.strictEqual((await call(sandbox, tokenOne)).remaining, '1')
  t.assert.strictEqual((await call(sandbox, tokenOne)).remaining, '0')
  t.assert.strictEqual((await call(sandbox, tokenOne)).status, 429)
  const tokenTwo = await token(sandbox, two)
  t.assert.deepStrictEqual(await call(sandbox, tokenTwo), { status: 200, limit: '2', remaining: '1', retryAfter: null })
})

test('halaxy rate limit: by default 500 per minute, as documented', async (t: TestContext) => {
  const clock = { now: Date.now() }
  const sandbox = await start(t, clock)
  t.assert.deepStrictEqual(await call(sandbox, await token(sandbox)), { status: 200, limit: '500', remaining: '499', retryAfter: null })
})

test('halaxy rate limit: reset forgets the window', async (t: TestContext) => {
  const clock = { now: Date.now() }
  const sandbox = await start(t, clock, { rateLimit: { requests: 1, windowMs: 60_000 } })
  let accessToken = await token(sandbox)
  t.assert.strictEqual((await call(sandbox, accessToken)).status, 200)
  t.assert.strictEqual((await call(sandbox, accessToken)).status, 429)
  sandbox.reset()
  accessToken = await token(sandbox)
  t.assert.deepStrictEqual(await call(sandbox, accessToken), { status: 200, limit: '1', remaining: '0', retryAfter: null })
})
