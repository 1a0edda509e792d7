/**
 * Issue 16, parts 2 and 4: with rewriteLinks: fhir, the locator fields of
 * FHIR JSON answers name the app's base, streamed (one byte per chunk from
 * the vendor, first bytes to the app before the vendor has finished), with
 * Content-Length and digests dropped and ETag / Last-Modified kept; other
 * media types, 206, HEAD and encoded answers pass byte for byte.
 */
import { gzipSync } from 'node:zlib'
import type { ServerResponse } from 'node:http'
import { test, type TestContext } from 'node:test'
import { startOrigin, type Origin } from '../helpers/origin.js'
import { startSidecar } from '../helpers/sidecar.js'

function bundle (base: string): string {
  return JSON.stringify({
    resourceType: 'Bundle',
    type: 'searchset',
    meta: { profile: [`${base}/StructureDefinition/bundle`] },
    link: [{ relation: 'self', url: `${base}/Patient` }, { relation: 'next', url: `${base}/Patient?page=2` }],
    entry: [{
      fullUrl: `${base}/Patient/1`,
      resource: { resourceType: 'Patient', id: '1', identifier: [{ system: `${base}/ids`, value: '1' }], managingOrganization: { reference: `${base}/Organization/9` } }
    }]
  })
}

function rewritten (base: string, app: string): string {
  const text = bundle(base)
  return text
    .replace(`"url":"${base}/Patient"`, `"url":"${app}/Patient"`)
    .replace(`"url":"${base}/Patient?page=2"`, `"url":"${app}/Patient?page=2"`)
    .replace(`"fullUrl":"${base}/Patient/1"`, `"fullUrl":"${app}/Patient/1"`)
    .replace(`"reference":"${base}/Organization/9"`, `"reference":"${app}/Organization/9"`)
}

/** Writes `text` one byte per write, each after the previous has been flushed. */
async function dribble (res: ServerResponse, text: string): Promise<void> {
  for (const byte of Buffer.from(text)) {
    await new Promise<void>((resolve) => res.write(Buffer.of(byte), () => resolve()))
  }
  res.end()
}

async function setup (t: TestContext): Promise<{ origin: Origin, base: string, url: string }> {
  let base = ''
  const origin = await startOrigin(t, async (req, res) => {
    const path = (req.url ?? '').replace(/^\/main/, '')
    const body = bundle(base)
    const types: Record<string, string> = { '/fhir': 'application/fhir+json; charset=utf-8', '/old': 'Application/JSON+FHIR', '/json': 'application/json', '/text': 'text/plain', '/xml': 'application/fhir+xml' }
    if (path === '/dribble') {
      res.writeHead(200, { 'content-type': 'application/fhir+json' })
      await dribble(res, body)
    } else if (path === '/headers') {
      res.writeHead(200, { 'content-type': 'application/fhir+json', 'content-length': Buffer.byteLength(body), etag: 'W/"3"', 'last-modified': 'Tue, 01 Dec 2026 10:00:00 GMT', digest: 'sha-256=abc=', 'repr-digest': 'sha-256=:abc=:', 'content-md5': 'Q2hlY2sgSW50ZWdyaXR5IQ==', 'content-digest': 'sha-256=:abc=:', 'accept-ranges': 'bytes' })
      res.end(req.method === 'HEAD' ? undefined : body)
    } else if (path === '/partial') {
      res.writeHead(206, { 'content-type': 'application/fhir+json', 'content-range': `bytes 0-${Buffer.byteLength(body) - 1}/*` }).end(body)
    } else if (path === '/gzip') {
      res.writeHead(200, { 'content-type': 'application/fhir+json', 'content-encoding': 'gzip' }).end(gzipSync(body))
    } else {
      res.writeHead(200, { 'content-type': types[path] ?? 'application/octet-stream' }).end(body)
    }
  })
  base = `${origin.url}/main`
  const { url } = await startSidecar(t, { upstreams: { fhir: { target: base, rewriteLinks: 'fhir' }, plain: { target: base } } })
  return { origin, base, url }
}

test('FHIR JSON media types are rewritten, by type/subtype; others and rewriteLinks none pass byte for byte', async (t: TestContext) => {
  t.plan(7)
  const { base, url } = await setup(t)
  const text = async (path: string): Promise<string> => await (await fetch(url + path)).text()
  t.assert.strictEqual(await text('/fhir/fhir'), rewritten(base, `${url}/fhir`))
  t.assert.strictEqual(await text('/fhir/old'), rewritten(base, `${url}/fhir`))
  t.assert.strictEqual(await text('/fhir/json'), rewritten(base, `${url}/fhir`))
  t.assert.strictEqual(await text('/fhir/text'), bundle(base))
  t.assert.strictEqual(await text('/fhir/xml'), bundle(base))
  t.assert.strictEqual(await text('/plain/fhir'), bundle(base), 'rewriteLinks defaults to none')
  const parsed = JSON.parse(await text('/fhir/fhir')) as { meta: { profile: string[] }, entry: Array<{ resource: { identifier: Array<{ system: string }> } }> }
  t.assert.deepStrictEqual([parsed.meta.profile[0], parsed.entry[0]?.resource.identifier[0]?.system], [`${base}/StructureDefinition/bundle`, `${base}/ids`], 'profile and system untouched')
})

test('a rewritten answer is chunked: no Content-Length, digests (Content-Digest too) or Accept-Ranges; ETag and Last-Modified kept', async (t: TestContext) => {
  t.plan(10)
  const { base, url } = await setup(t)
  const res = await fetch(`${url}/fhir/headers`)
  t.assert.strictEqual(await res.text(), rewritten(base, `${url}/fhir`))
  t.assert.strictEqual(res.headers.get('content-length'), null)
  t.assert.strictEqual(res.headers.get('transfer-encoding'), 'chunked')
  t.assert.deepStrictEqual(['digest', 'repr-digest', 'content-md5', 'content-digest'].map((name) => res.headers.get(name)), [null, null, null, null], 'RFC 9530 Content-Digest too')
  // Ranges of the rewritten bytes cannot be served: a resumed download would mix rewritten and original bytes (206 passes unchanged).
  t.assert.strictEqual(res.headers.get('accept-ranges'), null)
  t.assert.strictEqual(res.headers.get('etag'), 'W/"3"')
  t.assert.strictEqual(res.headers.get('last-modified'), 'Tue, 01 Dec 2026 10:00:00 GMT')
  const plain = await fetch(`${url}/plain/headers`)
  await plain.arrayBuffer()
  t.assert.strictEqual(plain.headers.get('digest'), 'sha-256=abc=', 'not rewritten: digests stay')
  t.assert.strictEqual(plain.headers.get('accept-ranges'), 'bytes', 'not rewritten: ranges stay')
  t.assert.strictEqual(plain.headers.get('content-length'), String(Buffer.byteLength(bundle(base))))
})

test('206, HEAD and an encoded answer pass unchanged; rewriting upstreams ask for identity', async (t: TestContext) => {
  t.plan(7)
  const { origin, base, url } = await setup(t)
  const partial = await fetch(`${url}/fhir/partial`)
  t.assert.strictEqual(partial.status, 206)
  t.assert.strictEqual(await partial.text(), bundle(base))
  const head = await fetch(`${url}/fhir/headers`, { method: 'HEAD' })
  t.assert.strictEqual(head.headers.get('content-length'), String(Buffer.byteLength(bundle(base))))
  t.assert.strictEqual(head.headers.get('digest'), 'sha-256=abc=')
  const gzip = await fetch(`${url}/fhir/gzip`, { headers: { 'accept-encoding': 'gzip' } })
  t.assert.strictEqual(await gzip.text(), bundle(base), 'decoded by fetch, as the vendor wrote it')
  t.assert.strictEqual(origin.requests.at(-1)?.headers['accept-encoding'], 'identity')
  await fetch(`${url}/plain/gzip`, { headers: { 'accept-encoding': 'gzip' } }).then(async (res) => await res.arrayBuffer())
  t.assert.strictEqual(origin.requests.at(-1)?.headers['accept-encoding'], 'gzip', 'a non-rewriting upstream gets the app\'s')
})

test('streamed: one byte per chunk from the vendor is rewritten whole', async (t: TestContext) => {
  t.plan(1)
  const { base, url } = await setup(t)
  t.assert.strictEqual(await (await fetch(`${url}/fhir/dribble`)).text(), rewritten(base, `${url}/fhir`))
})

test('streamed: the app reads the start of a rewritten answer before the vendor has sent its end', async (t: TestContext) => {
  t.plan(2)
  let finish: () => void = () => {}
  const finished = new Promise<void>((resolve) => { finish = resolve })
  let base = ''
  const origin = await startOrigin(t, async (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/fhir+json' })
    res.write(`{"resourceType":"Bundle","link":[{"relation":"self","url":"${base}/Patient"}],"entry":[`)
    await finished
    res.end(`{"fullUrl":"${base}/Patient/1"}]}`)
  })
  base = `${origin.url}/main`
  const { url } = await startSidecar(t, { upstreams: { fhir: { target: base, rewriteLinks: 'fhir' } } })
  const res = await fetch(`${url}/fhir/Patient`)
  const reader = (res.body as ReadableStream<Uint8Array>).getReader()
  let head = ''
  while (!head.includes('"entry":[')) head += Buffer.from((await reader.read()).value ?? []).toString()
  t.assert.strictEqual(head, `{"resourceType":"Bundle","link":[{"relation":"self","url":"${url}/fhir/Patient"}],"entry":[`)
  finish()
  let rest = ''
  for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) rest += Buffer.from(chunk.value).toString()
  t.assert.strictEqual(rest, `{"fullUrl":"${url}/fhir/Patient/1"}]}`)
})

test('an app that hangs up mid-answer stops the vendor\'s rewritten answer too', async (t: TestContext) => {
  t.plan(1)
  let closed: () => void = () => {}
  const vendorSawClose = new Promise<void>((resolve) => { closed = resolve })
  let base = ''
  const origin = await startOrigin(t, (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/fhir+json' })
    res.write(`{"resourceType":"Bundle","entry":[{"fullUrl":"${base}/Patient/0"}`)
    const timer = setInterval(() => res.write(`,{"fullUrl":"${base}/Patient/1"}`), 5)
    res.on('close', () => {
      clearInterval(timer)
      closed()
    })
  })
  base = `${origin.url}/main`
  const { url } = await startSidecar(t, { upstreams: { fhir: { target: base, rewriteLinks: 'fhir' } } })
  const controller = new AbortController()
  const res = await fetch(`${url}/fhir/Patient`, { signal: controller.signal })
  const reader = (res.body as ReadableStream<Uint8Array>).getReader()
  await reader.read()
  controller.abort()
  await vendorSawClose
  t.assert.ok(true, 'the vendor\'s response was closed')
})
