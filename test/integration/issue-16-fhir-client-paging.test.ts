/**
 * Issue 16, part 5: a published FHIR client (fhir-kit-client) pages through
 * tollgate in front of the sandbox's FHIR APIs: Halaxy's, configured with
 * nothing but the preset, and Redox's, whose preset leaves bodies alone
 * (`rewriteLinks: fhir` set in the config). Search, follow `next` to the last
 * page and `previous` back, read a `fullUrl`, create a resource and read it
 * back through the Location it got. Every request goes to the sidecar and
 * carries the injected token: the vendor never sees a request without it.
 */
import { test, type TestContext } from 'node:test'
import { Client } from 'fhir-kit-client'
import { sandboxUpstreams } from '../../src/sandbox/sandbox-upstreams.js'
import { startSandbox, type RunningSandbox } from '../../src/sandbox/server.js'
import { startSidecar } from '../helpers/sidecar.js'

interface Bundle { resourceType: 'Bundle', total: number, link: Array<{ relation: string, url: string }>, entry?: Array<{ fullUrl: string, resource: { resourceType: string, id: string } }> }

/**
 * The client's walk through the FHIR API at `baseUrl` (the sidecar's base for
 * `vendor`): every link it was handed, and every URL it requested, lead back
 * through the sidecar, and the vendor saw each request with a token.
 */
async function pageThrough (t: TestContext, sandbox: RunningSandbox, vendor: 'halaxy' | 'redox', baseUrl: string): Promise<void> {
  const client = new Client({ baseUrl })
  const requested: string[] = []
  /** Notes the URL the client requested for `resource`, which it answered. */
  const track = <T>(resource: unknown): T => {
    requested.push(Client.httpFor(resource as never).request?.url ?? '(none)')
    return resource as T
  }

  // Create: 201 with an absolute Location under the vendor's base, given back under the sidecar's.
  const created = track<{ id: string }>(await client.create({ resourceType: 'Patient', body: { resourceType: 'Patient', active: true, name: [{ family: 'Created', given: ['Via'] }] } as never }))
  const location = Client.httpFor(created as never).response?.headers.get('location')
  t.assert.strictEqual(location, `${baseUrl}/Patient/${created.id}/_history/1`)
  const readBack = track<{ id: string, name: Array<{ family: string }> }>(await client.resolve({ reference: location ?? '' }))
  t.assert.deepStrictEqual([readBack.id, readBack.name[0]?.family], [created.id, 'Created'])
  for (let i = 0; i < 2; i++) track<unknown>(await client.create({ resourceType: 'Patient', body: { resourceType: 'Patient', active: false } as never }))

  // Search, two a page, then every `next` to the last page: 3 seeded + 3 created = 6, on 3 pages.
  let bundle = track<Bundle>(await client.search({ resourceType: 'Patient', searchParams: { _count: 2 } }))
  const seen: string[] = []
  const pages: Bundle[] = []
  for (;;) {
    pages.push(bundle)
    for (const entry of bundle.entry ?? []) seen.push(entry.resource.id)
    const next = client.nextPage({ bundle: bundle as never })
    if (next === undefined) break
    bundle = track<Bundle>(await next)
  }
  t.assert.strictEqual(pages.length, 3)
  t.assert.strictEqual(new Set(seen).size, 6)
  t.assert.ok(seen.includes(created.id))
  const links = pages.flatMap((page) => [...page.link.map((link) => link.url), ...(page.entry ?? []).map((entry) => entry.fullUrl)])
  t.assert.deepStrictEqual(links.filter((link) => !link.startsWith(`${baseUrl}/Patient`)), [], 'every link leads back through tollgate')

  // `previous` from the last page.
  const previous = track<Bundle>(await client.prevPage({ bundle: bundle as never }))
  t.assert.deepStrictEqual(previous.entry?.map((entry) => entry.resource.id), pages[1]?.entry?.map((entry) => entry.resource.id))

  // Read an entry by its fullUrl.
  const fullUrl = pages[0]?.entry?.[0]?.fullUrl ?? ''
  const read = track<{ id: string }>(await client.resolve({ reference: fullUrl }))
  t.assert.strictEqual(read.id, pages[0]?.entry?.[0]?.resource.id)

  t.assert.deepStrictEqual(requested.filter((request) => !request.startsWith(`${baseUrl}/`)), [], 'no request left for the vendor\'s own base')
  const stats = sandbox.stats()[vendor]
  t.assert.strictEqual(stats.resourceUnauthorized, 0, 'every request the vendor saw carried the token')
  t.assert.strictEqual(stats.resourceRequests, requested.length)
  t.assert.strictEqual(stats.tokenRequests, 1)
}

test('fhir-kit-client searches, pages to the end and back, reads a fullUrl, creates and reads back through tollgate (Halaxy, preset only)', async (t: TestContext) => {
  const sandbox = await startSandbox()
  t.after(() => sandbox.close())
  const { url } = await startSidecar(t, { upstreams: { halaxy: sandboxUpstreams(sandbox).halaxy } })
  await pageThrough(t, sandbox, 'halaxy', `${url}/halaxy`)
})

test('the same walk through Redox\'s FHIR API, its base /fhir/R4/{organization}/{environment}, with rewriteLinks: fhir set', async (t: TestContext) => {
  const sandbox = await startSandbox()
  t.after(() => sandbox.close())
  const redox = sandboxUpstreams(sandbox).redox
  t.assert.ok(redox !== undefined, 'the sandbox made a Redox key pair')
  const { url } = await startSidecar(t, { upstreams: { redox: { ...redox, rewriteLinks: 'fhir' } } })
  await pageThrough(t, sandbox, 'redox', `${url}/redox/fhir/R4/acme/Development`)
})
