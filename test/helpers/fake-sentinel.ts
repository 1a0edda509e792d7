/**
 * A sentinel that has not heard of a switch: it names the primary the test
 * tells it to, whatever has happened, and passes on the events the test
 * publishes. Speaks just enough RESP for ioredis: SENTINEL
 * get-master-addr-by-name / sentinels, SUBSCRIBE / PSUBSCRIBE, PING; an
 * error for anything else. On 127.0.0.1, port 0; closed when the test ends.
 */
import { createServer, type AddressInfo, type Socket } from 'node:net'
import type { TestContext } from 'node:test'

export interface FakeSentinel {
  /** `127.0.0.1:PORT`, for store.sentinels. */
  readonly address: string
  /** What it answers to get-master-addr-by-name. */
  primary: { host: string, port: number }
  /** To every client subscribed to `channel`. */
  publish (channel: string, message: string): void
  /** Clients subscribed to `channel` now. */
  subscribers (channel: string): number
}

const bulk = (value: string): string => `$${Buffer.byteLength(value)}\r\n${value}\r\n`
const array = (items: readonly string[]): string => `*${items.length}\r\n${items.map(bulk).join('')}`

/** Complete RESP arrays of bulk strings at the start of `buffer`, and what is left. */
function commands (buffer: string): { parsed: string[][], rest: string } {
  const parsed: string[][] = []
  let at = 0
  for (;;) {
    const head = /^\*(\d+)\r\n/.exec(buffer.slice(at))
    if (head === null) break
    let cursor = at + head[0].length
    const args: string[] = []
    for (let i = 0; i < Number(head[1]); i++) {
      const length = /^\$(\d+)\r\n/.exec(buffer.slice(cursor))
      if (length === null || buffer.length < cursor + length[0].length + Number(length[1]) + 2) return { parsed, rest: buffer.slice(at) }
      cursor += length[0].length
      args.push(buffer.slice(cursor, cursor + Number(length[1])))
      cursor += Number(length[1]) + 2
    }
    parsed.push(args)
    at = cursor
  }
  return { parsed, rest: buffer.slice(at) }
}

export async function startFakeSentinel (t: TestContext, name: string, primary: { host: string, port: number }): Promise<FakeSentinel> {
  const channels = new Map<Socket, Set<string>>()
  const server = createServer((socket) => {
    channels.set(socket, new Set())
    socket.on('close', () => channels.delete(socket))
    socket.on('error', () => {})
    let pending = ''
    socket.on('data', (chunk: Buffer) => {
      const { parsed, rest } = commands(pending + chunk.toString('utf8'))
      pending = rest
      for (const [command = '', ...args] of parsed) socket.write(answer(socket, command.toUpperCase(), args))
    })
  })
  const answer = (socket: Socket, command: string, args: string[]): string => {
    const [sub = '', ...rest] = args
    if (command === 'PING') return '+PONG\r\n'
    if (command === 'SENTINEL' && sub.toUpperCase() === 'GET-MASTER-ADDR-BY-NAME') return rest[0] === name ? array([sentinel.primary.host, String(sentinel.primary.port)]) : '*-1\r\n'
    if (command === 'SENTINEL' && sub.toUpperCase() === 'SENTINELS') return '*0\r\n'
    if (command === 'SUBSCRIBE' || command === 'PSUBSCRIBE') {
      const subscribed = channels.get(socket) as Set<string>
      return args.map((channel) => {
        subscribed.add(channel)
        return `*3\r\n${bulk(command.toLowerCase())}${bulk(channel)}:${subscribed.size}\r\n`
      }).join('')
    }
    return `-ERR unknown command '${command}'\r\n`
  }
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.after(() => new Promise<void>((resolve) => {
    for (const socket of channels.keys()) socket.destroy()
    server.close(() => resolve())
  }))
  const sentinel: FakeSentinel = {
    address: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    primary,
    publish (channel, message) {
      for (const [socket, subscribed] of channels) if (subscribed.has(channel)) socket.write(array(['message', channel, message]))
    },
    subscribers: (channel) => [...channels.values()].filter((subscribed) => subscribed.has(channel)).length
  }
  return sentinel
}
