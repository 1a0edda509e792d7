/**
 * Issue 16, part 3: FHIR JSON request bodies map the app's base back to the
 * upstream's in the locator fields, so a read-modify-write round trip through
 * tollgate reaches the vendor byte for byte as the vendor wrote it: kept for
 * replay (small, retried after a 429 here), streamed (over the replay limit),
 * or chunked.
 */
import { request as httpRequest } from 'node:http'
import { gzipSync } from 'node:zlib'
import { test, type TestContext } from 'node:test'
import { startOrigin, type Origin } from '../helpers/origin.js'
import { startSidecar } from '../helpers/sidecar.js'

function patient (base: string, note = 'x'): string {
  return JSON.stringify({
    resourceType: 'Patient',
    id: '1',
    meta: { versionId: '3', profile: [`${base}/StructureDefinition/p`] },
    identifier: [{ system: `${base}/ids`, value: 'A-1' }],
    managingOrganization: { reference: `${base}/Organization/9` },
    generalPractitioner: [{ reference: 'Practitioner/2' }],
    text: { status: 'generated', div: `<div xmlns="http://www.w3.org/1999/xhtml">${note}</div>` }
  }, null, 2)
}

interface Vendor { origin: Origin, base: string, url: string, stored: string[] }

async function vendor (t: TestContext, first429 = false): Promise<Vendor> {
  const stored: string[] = []
  const served = new Map<string, string>()
  let refused = !first429
  let base = ''
  const origin = await startOrigin(t, (req, res, recorded) => {
    req.on('end', () => {
      const path = (req.url ?? '').replace(/^\/main/, '')
      if (req.method === 'GET') {
        const note = path === '/Patient/big' ? 'y'.repeat(1_200_000) : 'x'
        const body = patient(base, note)
        served.set(path, body)
        res.writeHead(200, { 'content-type': 'application/fhir+json; charset=utf-8', etag: 'W/"3"' }).end(body)
        return
      }
      if (!refused) {
        refused = true
        res.writeHead(429, { 'retry-after': '0' }).end()
        return
      }
      stored.push(recorded.body.toString())
      res.writeHead(200, { 'content-type': 'application/fhir+json' }).end(recorded.body)
    }).resume()
  })
  base = `${origin.url}/main`
  const { url } = await startSidecar(t, { upstreams: { fhir: { target: base, rewriteLinks: 'fhir' } } })
  return { origin, base, url, stored }
}

test('a resource read through tollgate and PUT back reaches the vendor byte for byte', async (t: TestContext) => {
  t.plan(4)
  const { base, url, stored, origin } = await vendor(t)
  const read = await (await fetch(`${url}/fhir/Patient/1`)).text()
  t.assert.ok(read.includes(`"reference": "${url}/fhir/Organization/9"`), 'the app sees its own base')
  const put = await fetch(`${url}/fhir/Patient/1`, { method: 'PUT', headers: { 'content-type': 'application/fhir+json', 'if-match': 'W/"3"' }, body: read })
  t.assert.strictEqual(await put.text(), read, 'the vendor\'s echo comes back in the app\'s terms')
  t.assert.strictEqual(stored[0], patient(base))
  t.assert.strictEqual(origin.requests.at(-1)?.headers['content-length'], String(Buffer.byteLength(patient(base))), 'a kept body is sent with its new length')
})

test('a kept body is replayed mapped after a 429', async (t: TestContext) => {
  t.plan(3)
  const { base, url, stored, origin } = await vendor(t, true)
  const read = await (await fetch(`${url}/fhir/Patient/1`)).text()
  const put = await fetch(`${url}/fhir/Patient/1`, { method: 'PUT', headers: { 'content-type': 'application/fhir+json' }, body: read })
  t.assert.strictEqual(put.status, 200)
  t.assert.deepStrictEqual(origin.requests.filter((request) => request.method === 'PUT').map((request) => request.body.toString()), [patient(base), patient(base)])
  t.assert.strictEqual(stored[0], patient(base))
})

test('a body over the replay limit, and a chunked one, stream mapped and chunked', async (t: TestContext) => {
  t.plan(4)
  const { base, url, stored, origin } = await vendor(t)
  const big = await (await fetch(`${url}/fhir/Patient/big`)).text()
  await (await fetch(`${url}/fhir/Patient/big`, { method: 'PUT', headers: { 'content-type': 'application/fhir+json' }, body: big })).arrayBuffer()
  t.assert.strictEqual(stored[0], patient(base, 'y'.repeat(1_200_000)))
  t.assert.strictEqual(origin.requests.at(-1)?.headers['transfer-encoding'], 'chunked')
  const read = await (await fetch(`${url}/fhir/Patient/1`)).text()
  // Chunked from the app, one byte per write, each flushed before the next.
  await new Promise<void>((resolve, reject) => {
    const { port } = new URL(url)
    const request = httpRequest({ host: '127.0.0.1', port, method: 'POST', path: '/fhir/Patient/1', headers: { 'content-type': 'application/fhir+json', 'transfer-encoding': 'chunked' } }, (res) => {
      res.resume().on('end', resolve)
    }).on('error', reject)
    const bytes = Buffer.from(read)
    const writeFrom = (at: number): void => {
      if (at === bytes.length) {
        request.end()
        return
      }
      request.write(bytes.subarray(at, at + 1), () => writeFrom(at + 1))
    }
    writeFrom(0)
  })
  t.assert.strictEqual(stored[1], patient(base), 'one byte per chunk from the app')
  // Chunked; or, when the mapped body had already arrived whole before the request went out, with its exact length (undici reads it off the ended stream).
  const length = origin.requests.at(-1)?.headers['content-length']
  t.assert.ok(length === undefined || length === String(Buffer.byteLength(patient(base))), `content-length ${length ?? ''}`)
})

test('other media types, and strings outside the locator fields, reach the vendor as sent', async (t: TestContext) => {
  t.plan(2)
  const { url, stored } = await vendor(t)
  const text = `{"reference":"${url}/fhir/Patient/1"}`
  await (await fetch(`${url}/fhir/Binary`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: text })).arrayBuffer()
  t.assert.strictEqual(stored[0], text)
  const system = `{"identifier":[{"system":"${url}/fhir/ids"}]}`
  await (await fetch(`${url}/fhir/Patient`, { method: 'POST', headers: { 'content-type': 'application/fhir+json' }, body: system })).arrayBuffer()
  t.assert.strictEqual(stored[1], system)
})

test('an empty FHIR JSON body is sent as it came: Content-Length 0, not chunked', async (t: TestContext) => {
  t.plan(2)
  const { url, origin } = await vendor(t)
  await (await fetch(`${url}/fhir/Patient/$everything`, { method: 'POST', headers: { 'content-type': 'application/fhir+json' }, body: '' })).arrayBuffer()
  t.assert.strictEqual(origin.requests.at(-1)?.headers['content-length'], '0')
  t.assert.strictEqual(origin.requests.at(-1)?.headers['transfer-encoding'], undefined)
})

test('an encoded FHIR JSON body (Content-Encoding: gzip) reaches the vendor byte for byte, with its length', async (t: TestContext) => {
  t.plan(3)
  const { url, origin } = await vendor(t)
  // Stored deflate blocks: the app's base is in the compressed bytes as plain text, where a scan of them would find it.
  const gzipped = gzipSync(`{"resourceType":"Patient","managingOrganization":{"reference":"${url}/fhir/Organization/9"}}`, { level: 0 })
  const res = await fetch(`${url}/fhir/Patient`, { method: 'POST', headers: { 'content-type': 'application/fhir+json', 'content-encoding': 'gzip' }, body: gzipped })
  await res.arrayBuffer()
  t.assert.strictEqual(res.status, 200)
  t.assert.ok(origin.requests.at(-1)?.body.equals(gzipped), 'the gzip bytes as the app sent them')
  t.assert.strictEqual(origin.requests.at(-1)?.headers['content-length'], String(gzipped.length))
})

test('a mapped body goes without the app\'s digests of its own bytes (Content-MD5, Digest, Repr-Digest, Content-Digest)', async (t: TestContext) => {
  t.plan(3)
  const { base, url, stored, origin } = await vendor(t)
  const read = await (await fetch(`${url}/fhir/Patient/1`)).text()
  const digests = { 'content-md5': 'Q2hlY2sgSW50ZWdyaXR5IQ==', digest: 'sha-256=abc=', 'repr-digest': 'sha-256=:abc=:', 'content-digest': 'sha-256=:abc=:' }
  const put = await fetch(`${url}/fhir/Patient/1`, { method: 'PUT', headers: { 'content-type': 'application/fhir+json', ...digests }, body: read })
  await put.arrayBuffer()
  t.assert.strictEqual(stored[0], patient(base))
  const headers = origin.requests.at(-1)?.headers ?? {}
  t.assert.deepStrictEqual(Object.keys(digests).map((name) => headers[name]), [undefined, undefined, undefined, undefined])
  await (await fetch(`${url}/fhir/Binary`, { method: 'POST', headers: { 'content-type': 'application/octet-stream', ...digests }, body: 'x' })).arrayBuffer()
  t.assert.strictEqual(origin.requests.at(-1)?.headers.digest, 'sha-256=abc=', 'a body that is not mapped keeps them')
})

test('bodyLimit is on the bytes the app sent: a chunked body under it is not refused for what mapping adds', async (t: TestContext) => {
  t.plan(3)
  const origin = await startOrigin(t, (req, res) => { req.on('end', () => res.writeHead(201).end()).resume() })
  // The vendor's base is longer than the app's: every reference grows on its way.
  const base = `${origin.url}/a-rather-long-fhir-base/R4`
  const { url } = await startSidecar(t, { upstreams: { fhir: { target: base, rewriteLinks: 'fhir', bodyLimit: 1000 } } })
  const members = Array.from({ length: 8 }, (_, i) => `{"entity":{"reference":"${url}/fhir/Patient/${i}"}}`).join(',')
  const head = `{"resourceType":"Group","member":[${members}],"text":"`
  const body = `${head}${'y'.repeat(996 - head.length)}"}`
  const { port } = new URL(url)
  const status = await new Promise<number | undefined>((resolve, reject) => {
    httpRequest({ host: '127.0.0.1', port, method: 'POST', path: '/fhir/Group', headers: { 'content-type': 'application/fhir+json', 'transfer-encoding': 'chunked' } }, (res) => {
      res.resume().on('end', () => resolve(res.statusCode))
    }).on('error', reject).end(body)
  })
  t.assert.strictEqual(Buffer.byteLength(body), 998)
  t.assert.strictEqual(status, 201)
  t.assert.strictEqual(origin.requests.at(-1)?.body.toString(), body.replaceAll(`${url}/fhir`, base))
})
