import { request, Agent, type IncomingMessage } from 'node:http'
import { connect } from 'node:net'
import { test, type TestContext } from 'node:test'
import { startCli } from '../helpers/cli-process.js'
import { fixtureDir } from '../helpers/fixtures.js'
import { startOrigin } from '../helpers/origin.js'

/** An origin that answers after `ms` (and forgets the answer if the connection goes away first). */
async function slowOrigin (t: TestContext, ms: number): Promise<Awaited<ReturnType<typeof startOrigin>>> {
  return await startOrigin(t, (_req, res) => {
    const timer = setTimeout(() => res.end('done'), ms)
    res.on('close', () => clearTimeout(timer))
  })
}

async function startTollgate (t: TestContext, target: string, grace: string): Promise<{ port: number, cli: ReturnType<typeof startCli> }> {
  const dir = fixtureDir(t)
  const config = dir.write('tollgate.yaml', `server:\n  port: 0\n  shutdownGrace: ${grace}\nupstreams:\n  slow:\n    target: ${target}\n`)
  const cli = startCli(t, ['--config', config])
  const [, port] = await cli.waitForStdout(/listening at http:\/\/127\.0\.0\.1:(\d+)/)
  return { port: Number(port), cli }
}

/** A GET through the sidecar on a keep-alive connection, as apps (fetch, axios) make them. */
function get (t: TestContext, port: number, path: string): Promise<{ status: number, body: string } | { error: string }> {
  const agent = new Agent({ keepAlive: true })
  t.after(() => agent.destroy())
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path, agent }, (res: IncomingMessage) => {
      let body = ''
      res.on('data', (chunk: Buffer) => { body += chunk.toString() })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
      res.on('error', (err) => resolve({ error: err.message }))
    })
    req.on('error', (err) => resolve({ error: err.message }))
    req.end()
  })
}

/** Resolves with the connect error code once a new connection to `port` is refused (polling; bounded). */
async function refusedWithin (port: number, ms: number): Promise<string> {
  const deadline = performance.now() + ms
  for (;;) {
    const outcome = await new Promise<string>((resolve) => {
      const socket = connect(port, '127.0.0.1')
      socket.once('connect', () => { socket.destroy(); resolve('connected') })
      socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'))
    })
    if (outcome !== 'connected' || performance.now() > deadline) return outcome
    await new Promise((resolve) => setImmediate(resolve))
  }
}

// Two processes side by side keep the file short; each case is independent.
test('SIGTERM', { concurrency: true }, async (t: TestContext) => {
  await Promise.all([
    t.test('finishes the in-flight request, refuses new connections, exits 0 well within shutdownGrace', async (t: TestContext) => {
      t.plan(6)
      const origin = await slowOrigin(t, 800)
      const { port, cli } = await startTollgate(t, origin.url, '6s')
      const inFlight = get(t, port, '/slow/x')
      while (origin.requests.length === 0) await new Promise((resolve) => setImmediate(resolve))

      let answered = false
      inFlight.then(() => { answered = true }, () => {})
      const signalledAt = performance.now()
      cli.child.kill('SIGTERM')
      const refused = await refusedWithin(port, 1000)
      // A connect racing the close can land in the kernel's backlog and be reset rather than refused: both are "no".
      t.assert.ok(refused === 'ECONNREFUSED' || refused === 'ECONNRESET', `a new connection is refused while draining (got ${String(refused)})`)
      t.assert.strictEqual(answered, false, 'refused while the in-flight request was still running')

      t.assert.deepStrictEqual(await inFlight, { status: 200, body: 'done' })
      const { code, at } = await cli.exited
      t.assert.strictEqual(code, 0, cli.stderr())
      // The app's keep-alive connection must not hold the process until the grace runs out.
      const took = at - signalledAt
      // Far below the grace (6 s), with room for a loaded host: a held connection would last the whole grace.
      t.assert.ok(took < 3500, `exited ${Math.round(took)} ms after SIGTERM; the request took ~800 ms and the grace is 6000 ms`)
      t.assert.match(cli.stdout(), /"outcome":"drained"/)
    }),

    t.test('an upstream slower than shutdownGrace: still exits 0, about grace after SIGTERM', async (t: TestContext) => {
      t.plan(3)
      const origin = await slowOrigin(t, 2500)
      const { port, cli } = await startTollgate(t, origin.url, '300ms')
      const inFlight = get(t, port, '/slow/x')
      while (origin.requests.length === 0) await new Promise((resolve) => setImmediate(resolve))

      const signalledAt = performance.now()
      cli.child.kill('SIGTERM')
      const { code, at } = await cli.exited
      const took = at - signalledAt
      t.assert.strictEqual(code, 0, cli.stderr())
      t.assert.ok(took >= 250 && took < 1200, `exited ${Math.round(took)} ms after SIGTERM with a 300 ms grace (the upstream answers at 2500 ms)`)
      t.assert.ok('error' in (await inFlight), 'the cut request ends with a closed connection')
    })
  ])
})
