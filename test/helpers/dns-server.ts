/**
 * A fake DNS server on loopback (UDP, RFC 1035): A records for the names
 * it is given, NXDOMAIN for any other. With `lookupVia` it becomes a
 * node:net LookupFunction to inject where a connection resolves names, so
 * tests can use names like `vendor.test` (RFC 6761: never resolvable for
 * real) and still only ever talk to 127.0.0.1.
 */
import { createSocket } from 'node:dgram'
import type { LookupAddress } from 'node:dns'
import { Resolver } from 'node:dns'
import type { LookupFunction } from 'node:net'
import type { TestContext } from 'node:test'

export interface DnsServer {
  /** `127.0.0.1:PORT`, for Resolver#setServers. */
  readonly address: string
  /** The names asked for, lower-cased, in order. */
  readonly queries: string[]
}

const TYPE_A = 1
const NXDOMAIN = 3

export async function startDnsServer (t: TestContext, records: Readonly<Record<string, string>>): Promise<DnsServer> {
  const queries: string[] = []
  const socket = createSocket('udp4')
  socket.on('message', (message, peer) => {
    const question = readQuestion(message)
    if (question === undefined) return
    queries.push(question.name)
    const address = records[question.name]
    const answer = address !== undefined && question.type === TYPE_A ? ipv4(address) : undefined
    const header = Buffer.alloc(12)
    header.writeUInt16BE(message.readUInt16BE(0), 0)
    // QR, the query's RD echoed, RA; RCODE NXDOMAIN for an unknown name (a known one without an A answer is NODATA).
    header.writeUInt16BE(0x8080 | (message.readUInt16BE(2) & 0x0100) | (address === undefined ? NXDOMAIN : 0), 2)
    header.writeUInt16BE(1, 4)
    header.writeUInt16BE(answer === undefined ? 0 : 1, 6)
    const parts = [header, question.raw]
    if (answer !== undefined) {
      const record = Buffer.alloc(16)
      record.writeUInt16BE(0xc00c, 0) // the name: a pointer to the question's
      record.writeUInt16BE(TYPE_A, 2)
      record.writeUInt16BE(1, 4) // class IN
      record.writeUInt32BE(60, 6) // TTL
      record.writeUInt16BE(4, 10)
      answer.copy(record, 12)
      parts.push(record)
    }
    socket.send(Buffer.concat(parts), peer.port, peer.address)
  })
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve))
  t.after(() => new Promise<void>((resolve) => socket.close(() => resolve())))
  return { address: `127.0.0.1:${socket.address().port}`, queries }
}

/** A LookupFunction (as node:net and undici's connector call it) answered by `server` alone. */
export function lookupVia (server: DnsServer): LookupFunction {
  const resolver = new Resolver({ timeout: 1000, tries: 1 })
  resolver.setServers([server.address])
  return (hostname, options, callback) => {
    resolver.resolve4(hostname, (err, addresses) => {
      if (err !== null) {
        callback(err, '', 0)
        return
      }
      const all: LookupAddress[] = addresses.map((address) => ({ address, family: 4 }))
      if (options.all === true) callback(null, all)
      else callback(null, all[0]?.address ?? '', 4)
    })
  }
}

function readQuestion (message: Buffer): { name: string, type: number, raw: Buffer } | undefined {
  if (message.length < 12 || message.readUInt16BE(4) !== 1) return undefined
  const labels: string[] = []
  let offset = 12
  while (offset < message.length) {
    const length = message[offset] ?? 0
    offset++
    if (length === 0) break
    labels.push(message.subarray(offset, offset + length).toString('latin1'))
    offset += length
  }
  if (offset + 4 > message.length) return undefined
  return { name: labels.join('.').toLowerCase(), type: message.readUInt16BE(offset), raw: message.subarray(12, offset + 4) }
}

function ipv4 (address: string): Buffer {
  return Buffer.from(address.split('.').map(Number))
}
