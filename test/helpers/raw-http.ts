/**
 * Requests written byte for byte on a node:net socket, for request targets
 * that fetch() or node:http would normalise (`..`, `%2e`, backslashes,
 * absolute-form, CONNECT).
 */
import { connect } from 'node:net'

export interface RawResponse {
  readonly status: number
  readonly headers: Record<string, string>
  readonly body: string
  /** Everything the server wrote, as received. */
  readonly raw: string
}

/** Sends `head` (the request line and any extra header lines, no trailing CRLF) plus `Host` and `Connection: close`; resolves when the server closes. */
export async function rawRequest (baseUrl: string, head: string, body = ''): Promise<RawResponse> {
  const { port } = new URL(baseUrl)
  const raw = await new Promise<string>((resolve, reject) => {
    const socket = connect(Number(port), '127.0.0.1', () => {
      // write, not end: a half-closed socket makes Node's server abort the request it has just read.
      socket.write(`${head}\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n${body === '' ? '' : `Content-Length: ${Buffer.byteLength(body)}\r\n`}\r\n${body}`)
    })
    const chunks: Buffer[] = []
    socket.setTimeout(4000, () => socket.destroy(new Error('raw request timed out')))
    socket.on('data', (chunk: Buffer) => chunks.push(chunk))
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')))
    socket.on('error', reject)
  })
  return parse(raw)
}

function parse (raw: string): RawResponse {
  const end = raw.indexOf('\r\n\r\n')
  const head = end === -1 ? raw : raw.slice(0, end)
  const [statusLine = '', ...lines] = head.split('\r\n')
  const headers: Record<string, string> = {}
  for (const line of lines) {
    const colon = line.indexOf(':')
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim()
  }
  let body = end === -1 ? '' : raw.slice(end + 4)
  if (headers['transfer-encoding']?.toLowerCase() === 'chunked') body = dechunk(body)
  return { status: Number(statusLine.split(' ')[1]), headers, body, raw }
}

function dechunk (text: string): string {
  let out = ''
  let rest = text
  for (;;) {
    const lineEnd = rest.indexOf('\r\n')
    if (lineEnd === -1) return out
    const size = parseInt(rest.slice(0, lineEnd), 16)
    if (!Number.isFinite(size) || size === 0) return out
    out += rest.slice(lineEnd + 2, lineEnd + 2 + size)
    rest = rest.slice(lineEnd + 2 + size + 2)
  }
}
