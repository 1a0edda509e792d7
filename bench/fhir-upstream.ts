/**
 * The FHIR vendor of the fhir scenario, in its own process: a 100-entry
 * searchset Bundle at `GET <base>/Patient` (whole, with its length), and at
 * `GET <base>/Patient/$everything?bytes=N&rate=R` a Bundle of about N bytes
 * streamed at R bytes/s, so a client can tell whether it got the first
 * bytes before the vendor sent the last. Every URL in the bodies is under
 * `<base>`, the vendor's own base (what a rewriting tollgate maps).
 */
import { once } from 'node:events'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { announce, epochNow, serveParent } from './child-ipc.js'
import { BUNDLE_TAIL, bundleHead, entryJson, LOCATORS_IN_HEAD, LOCATORS_PER_ENTRY, searchsetBundle, type StreamedBundle } from './fhir-bundle.js'

const FHIR_PATH = '/fhir'
const SEARCH_ENTRIES = 100

const FHIR_JSON = 'application/fhir+json; charset=utf-8'
/** Entries per write of the streamed Bundle (about 64 KiB). */
const ENTRIES_PER_WRITE = 100
/** The largest streamed Bundle a request may ask for. */
const MAX_STREAM_BYTES = 1024 * 1024 * 1024

let base = ''
let search: Buffer = Buffer.alloc(0)
let requests = 0
let streamed: StreamedBundle | undefined

async function serve (req: IncomingMessage, res: ServerResponse): Promise<void> {
  requests++
  const url = new URL(req.url ?? '/', 'http://upstream')
  if (url.pathname === `${FHIR_PATH}/Patient`) {
    res.writeHead(200, { 'content-type': FHIR_JSON, 'content-length': String(search.length) }).end(search)
    return
  }
  if (url.pathname === `${FHIR_PATH}/Patient/$everything`) {
    const bytes = Math.min(MAX_STREAM_BYTES, Number(url.searchParams.get('bytes') ?? 0))
    const rate = Number(url.searchParams.get('rate') ?? 0)
    await stream(res, bytes, rate)
    return
  }
  res.writeHead(404).end()
}

/** About `bytes` of Bundle at `rate` bytes/s at most, without a length (chunked), as a server generating it would. */
async function stream (res: ServerResponse, bytes: number, rate: number): Promise<void> {
  const record: StreamedBundle = { bytes: 0, locators: LOCATORS_IN_HEAD, firstWrittenAt: NaN, lastWrittenAt: NaN, complete: false }
  streamed = record
  res.writeHead(200, { 'content-type': FHIR_JSON })
  const write = async (text: string): Promise<void> => {
    const ok = res.write(text)
    record.bytes += Buffer.byteLength(text)
    if (Number.isNaN(record.firstWrittenAt)) record.firstWrittenAt = epochNow()
    if (!ok) await once(res, 'drain')
  }
  const started = performance.now()
  await write(bundleHead(base, 0))
  for (let i = 0; record.bytes < bytes && !res.destroyed;) {
    const parts: string[] = []
    for (const end = i + ENTRIES_PER_WRITE; i < end; i++) parts.push(i === 0 ? entryJson(base, i) : `,${entryJson(base, i)}`)
    record.locators += LOCATORS_PER_ENTRY * parts.length
    await write(parts.join(''))
    // Paced: never ahead of `rate`.
    const dueMs = record.bytes / rate * 1000 - (performance.now() - started)
    if (rate > 0 && dueMs > 1) await sleep(dueMs)
  }
  res.end(BUNDLE_TAIL)
  record.bytes += BUNDLE_TAIL.length
  record.lastWrittenAt = epochNow()
  await once(res, 'finish')
  record.complete = true
}

const server = createServer((req, res) => {
  serve(req, res).catch(() => res.destroy())
})
server.keepAliveTimeout = 10_000
await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0, backlog: 4096 }, resolve))
const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
base = `${origin}${FHIR_PATH}`
search = searchsetBundle(base, SEARCH_ENTRIES)

serveParent({
  cpu: () => { const { user, system } = process.cpuUsage(); return user + system },
  counters: () => ({ requests }),
  /** The last streamed Bundle, once its last byte is written; undefined before. */
  streamed: () => streamed,
  searchBytes: () => search.length
}, async () => {
  server.closeAllConnections()
  await new Promise((resolve) => server.close(resolve))
})

announce({ origin, base })
