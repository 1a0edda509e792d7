import { connect } from 'node:net'
import { test, type TestContext } from 'node:test'
import { startOrigin } from '../helpers/origin.js'
import { startSidecar } from '../helpers/sidecar.js'

/** Sends raw bytes and returns everything the sidecar wrote before closing. */
async function exchange (url: string, bytes: string): Promise<string> {
  const { port } = new URL(url)
  return await new Promise((resolve, reject) => {
    const socket = connect(Number(port), '127.0.0.1', () => socket.end(bytes))
    const chunks: Buffer[] = []
    socket.on('data', (chunk: Buffer) => chunks.push(chunk))
    socket.on('close', () => resolve(Buffer.concat(chunks).toString()))
    socket.on('error', reject)
    socket.setTimeout(3000, () => socket.destroy(new Error('no answer')))
  })
}

test('requests Node\'s parser refuses are answered as problem+json too: 400, 431', async (t: TestContext) => {
  const origin = await startOrigin(t)
  const sidecar = await startSidecar(t, { upstreams: { vendor: { target: origin.url } } })

  const garbage = await exchange(sidecar.url, 'THIS IS NOT HTTP\r\n\r\n')
  t.assert.match(garbage, /^HTTP\/1\.1 400 Bad Request\r\n/)
  t.assert.match(garbage, /content-type: application\/problem\+json/)
  t.assert.match(garbage, /"code":"TG_BAD_REQUEST"/)

  const huge = await exchange(sidecar.url, `GET /vendor/x HTTP/1.1\r\nHost: a\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`)
  t.assert.match(huge, /^HTTP\/1\.1 431 Request Header Fields Too Large\r\n/)
  t.assert.match(huge, /"code":"TG_HEADERS_TOO_LARGE"/)
  t.assert.strictEqual(origin.requests.length, 0)
})
