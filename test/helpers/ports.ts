/** Ports for CLI tests: a free one to ask for, and a held one to collide with. */
import { createServer, type Server } from 'node:net'
import type { TestContext } from 'node:test'

/** A port that was free a moment ago (bound on 127.0.0.1, then released). */
export async function freePort (): Promise<number> {
  const server = await hold(0)
  const { port } = server.address() as { port: number }
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

/** A port held open on 127.0.0.1 until the test ends: whoever listens there next gets EADDRINUSE. */
export async function takenPort (t: TestContext): Promise<number> {
  const server = await hold(0)
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())))
  return (server.address() as { port: number }).port
}

function hold (port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(port, '127.0.0.1', () => resolve(server))
  })
}
