/**
 * Issue 16, part 1: Location, Content-Location and Link URLs that point into
 * the target's base come back in the app's terms, whatever form the
 * upstream wrote them in; URLs outside the base pass unchanged.
 */
import { request as httpRequest } from 'node:http'
import { connect } from 'node:net'
import { test, type TestContext } from 'node:test'
import { startOrigin } from '../helpers/origin.js'
import { startSidecar } from '../helpers/sidecar.js'

/** An origin that answers every request with the headers named by its path, /main/<case>. */
async function linkOrigin (t: TestContext): Promise<{ url: string, sidecar: string }> {
  let base = ''
  const answers: Record<string, Record<string, string>> = {
    absolute: { location: '{base}/main/Patient/1/_history/1' },
    'absolute-case': { location: '{BASE}/main/Patient/1' },
    'scheme-relative': { location: '{noscheme}/main/Patient/2' },
    relative: { location: 'Patient/3' },
    'path-absolute': { location: '/main/Patient/4?x=1#f' },
    'base-itself': { location: '{base}/main' },
    'sibling-path': { location: '{base}/main2/Patient/1' },
    'sibling-relative': { location: '/main2/Patient/1' },
    'other-host': { location: 'https://elsewhere.example/main/Patient/1' },
    'other-scheme': { location: 'urn:uuid:5b0c5d5e-2d4e-4a0c-9a0e-6d2c1c7f0b11' },
    'content-location': { 'content-location': '{base}/main/Patient/5/_history/2' },
    link: { link: '<{base}/main/Patient?page=2>; rel="next", <https://elsewhere.example/x>; rel="help", </main/Patient?page=1>; rel="prev"' }
  }
  const origin = await startOrigin(t, (req, res) => {
    const name = (req.url ?? '').replace(/^\/main\//, '')
    const headers: Record<string, string> = {}
    for (const [header, value] of Object.entries(answers[name] ?? {})) {
      headers[header] = value.replaceAll('{base}', base).replaceAll('{BASE}', base.toUpperCase()).replaceAll('{noscheme}', base.replace(/^http:/, ''))
    }
    res.writeHead(201, headers).end()
  })
  base = origin.url
  const { url } = await startSidecar(t, { upstreams: { halaxy: { target: `${origin.url}/main` } } })
  return { url: origin.url, sidecar: url }
}

test('absolute, scheme-relative, relative and path-absolute URLs into the base come back in the app\'s terms', async (t: TestContext) => {
  t.plan(6)
  const { sidecar } = await linkOrigin(t)
  const location = async (name: string): Promise<string | null> => (await fetch(`${sidecar}/halaxy/${name}`, { method: 'POST', redirect: 'manual' })).headers.get('location')
  t.assert.strictEqual(await location('absolute'), `${sidecar}/halaxy/Patient/1/_history/1`)
  t.assert.strictEqual(await location('absolute-case'), `${sidecar}/halaxy/Patient/1`, 'scheme and host compare case-insensitively')
  t.assert.strictEqual(await location('scheme-relative'), `${sidecar}/halaxy/Patient/2`)
  t.assert.strictEqual(await location('relative'), '/halaxy/Patient/3', 'resolved against the upstream URL, given back path-absolute')
  t.assert.strictEqual(await location('path-absolute'), '/halaxy/Patient/4?x=1#f')
  t.assert.strictEqual(await location('base-itself'), `${sidecar}/halaxy`)
})

test('URLs outside the base pass unchanged', async (t: TestContext) => {
  t.plan(5)
  const { url: origin, sidecar } = await linkOrigin(t)
  const location = async (name: string): Promise<string | null> => (await fetch(`${sidecar}/halaxy/${name}`, { method: 'POST', redirect: 'manual' })).headers.get('location')
  t.assert.strictEqual(await location('sibling-path'), `${origin}/main2/Patient/1`, '…/main2 is not inside …/main')
  t.assert.strictEqual(await location('sibling-relative'), '/main2/Patient/1')
  t.assert.strictEqual(await location('other-host'), 'https://elsewhere.example/main/Patient/1')
  t.assert.strictEqual(await location('other-scheme'), 'urn:uuid:5b0c5d5e-2d4e-4a0c-9a0e-6d2c1c7f0b11')
  t.assert.strictEqual(await location('nothing'), null)
})

test('Content-Location and every Link target are mapped too', async (t: TestContext) => {
  t.plan(2)
  const { sidecar } = await linkOrigin(t)
  const contentLocation = (await fetch(`${sidecar}/halaxy/content-location`, { method: 'POST' })).headers.get('content-location')
  t.assert.strictEqual(contentLocation, `${sidecar}/halaxy/Patient/5/_history/2`)
  const link = (await fetch(`${sidecar}/halaxy/link`)).headers.get('link')
  t.assert.strictEqual(link, `<${sidecar}/halaxy/Patient?page=2>; rel="next", <https://elsewhere.example/x>; rel="help", </halaxy/Patient?page=1>; rel="prev"`)
})

test('the app\'s origin is the Host it sent, or the address it reached when it sent none', async (t: TestContext) => {
  t.plan(2)
  const { sidecar } = await linkOrigin(t)
  const { port } = new URL(sidecar)
  const viaHost = await new Promise<string | undefined>((resolve, reject) => {
    httpRequest({ host: '127.0.0.1', port, method: 'POST', path: '/halaxy/absolute', headers: { host: 'tollgate.internal:9999' } }, (res) => {
      res.resume().on('end', () => resolve(res.headers.location))
    }).on('error', reject).end()
  })
  t.assert.strictEqual(viaHost, 'http://tollgate.internal:9999/halaxy/Patient/1/_history/1')
  const noHost = await new Promise<string>((resolve, reject) => {
    const chunks: Buffer[] = []
    const socket = connect(Number(port), '127.0.0.1', () => socket.write('POST /halaxy/absolute HTTP/1.0\r\nContent-Length: 0\r\n\r\n'))
    socket.on('data', (chunk: Buffer) => chunks.push(chunk)).on('close', () => resolve(Buffer.concat(chunks).toString('latin1'))).on('error', reject)
  })
  t.assert.match(noHost, new RegExp(`\r\nlocation: http://127\\.0\\.0\\.1:${port}/halaxy/Patient/1/_history/1\r\n`, 'i'))
})
