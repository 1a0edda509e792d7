/**
 * Node's slow-client checker (headersTimeout, requestTimeout) runs only
 * while the server has a connection (src/connection-checks.ts): a listening
 * server nobody talks to runs no timer, the first connection starts the
 * checker and it still cuts a slow client off, and once the last connection
 * is gone no timer runs again. Timer callbacks are counted with an
 * async_hooks hook, so the count is this process's own, whatever else the
 * machine does.
 */
import { createHook } from 'node:async_hooks'
import { createServer } from 'node:http'
import { connect, type AddressInfo } from 'node:net'
import { test, type TestContext } from 'node:test'
import { checkOnlyWhileConnected } from '../../src/connection-checks.js'

const HEADERS_TIMEOUT_MS = 200
/** The checker's interval: twenty callbacks a second while it runs. */
const INTERVAL_MS = 50
const QUIET_MS = 1000

// Every Timeout (ref'd or not, Node's own included) and each time its callback runs.
const timeouts = new Set<number>()
let fired = 0
createHook({
  init (id, type) { if (type === 'Timeout') timeouts.add(id) },
  before (id) { if (timeouts.has(id)) fired++ },
  destroy (id) { timeouts.delete(id) }
}).enable()

/** Timer callbacks over QUIET_MS of doing nothing but wait: one for the wait itself. */
async function quietTimers (): Promise<number> {
  const before = fired
  await new Promise((resolve) => setTimeout(resolve, QUIET_MS))
  return fired - before
}

async function listening (t: TestContext): Promise<number> {
  const server = createServer({ connectionsCheckingInterval: INTERVAL_MS }, (_req, res) => res.end('ok'))
  server.headersTimeout = HEADERS_TIMEOUT_MS
  server.requestTimeout = 2 * HEADERS_TIMEOUT_MS
  t.assert.strictEqual(checkOnlyWhileConnected(server), true, 'this Node offers no way to pause the checker')
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.after(() => new Promise<void>((resolve) => {
    server.close(() => resolve())
    server.closeAllConnections()
  }))
  return (server.address() as AddressInfo).port
}

test('idle, the server runs no timer; a slow client starts the checker and is cut off at headersTimeout; then no timer runs again', async (t: TestContext) => {
  t.plan(5)
  const port = await listening(t)
  // A checker left running would fire QUIET_MS / INTERVAL_MS = 20 times.
  const idle = await quietTimers()
  t.assert.ok(idle <= 2, `${idle} timer callbacks in ${QUIET_MS} ms with no connection`)

  // Headers begun and never finished: only the checker can find it past headersTimeout.
  const started = performance.now()
  const socket = connect(port, '127.0.0.1', () => socket.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n'))
  let answer = ''
  socket.on('data', (chunk: Buffer) => { answer += chunk.toString('latin1') })
  await new Promise<void>((resolve) => socket.on('close', () => resolve()))
  const elapsed = performance.now() - started
  t.assert.match(answer, /^HTTP\/1\.1 408 /, 'the slow client is answered 408')
  t.assert.ok(elapsed >= HEADERS_TIMEOUT_MS - 20 && elapsed < HEADERS_TIMEOUT_MS + 1000, `cut off after ${Math.round(elapsed)} ms`)

  const after = await quietTimers()
  t.assert.ok(after <= 2, `${after} timer callbacks in ${QUIET_MS} ms once the connection closed`)
})

test('with one of two connections closed the checker goes on, and still cuts a slow client off', async (t: TestContext) => {
  t.plan(3)
  const port = await listening(t)
  // Headers begun, never finished, on the connection that stays; another opens and closes meanwhile.
  const slow = connect(port, '127.0.0.1')
  await new Promise((resolve) => slow.once('connect', resolve))
  slow.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n')
  // Read what comes (the 408), so the server's close reaches 'close' here.
  slow.resume()
  const brief = connect(port, '127.0.0.1')
  await new Promise((resolve) => brief.once('connect', resolve))
  brief.destroy()
  await new Promise((resolve) => brief.once('close', resolve))
  // Past headersTimeout the slow one must still be cut off: the checker runs on.
  const closed = await Promise.race([
    new Promise<boolean>((resolve) => slow.once('close', () => resolve(true))),
    new Promise<boolean>((resolve) => setTimeout(() => resolve(false), HEADERS_TIMEOUT_MS + 1000))
  ])
  t.assert.strictEqual(closed, true, 'the connection left open was never cut off: the checker stopped with the other')
  slow.destroy()
  const after = await quietTimers()
  t.assert.ok(after <= 2, `${after} timer callbacks in ${QUIET_MS} ms once both connections closed`)
})
