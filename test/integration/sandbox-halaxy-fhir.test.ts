// The sandbox's Halaxy FHIR API answers as a FHIR server does: absolute URLs
// under its own base in search links, fullUrls and a create's Location.
import { test, type TestContext } from 'node:test'
import { startSandbox } from '../../src/sandbox/server.js'

test('halaxy sandbox: search pages with _count and absolute links; create answers 201 with an absolute Location; read and vread', async (t: TestContext) => {
  const sandbox = await startSandbox()
  t.after(() => sandbox.close())
  const { target, tokenUrl } = sandbox.endpoints.halaxy
  const { clientId, clientSecret } = sandbox.credentials.halaxy
  const tokenRes = await fetch(tokenUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret }) })
  const { access_token: token } = await tokenRes.json() as { access_token: string }
  const headers = { authorization: `Bearer ${token}`, 'user-agent': 'Test (t@example.com)', 'content-type': 'application/fhir+json' }

  const created = await fetch(`${target}/Patient`, { method: 'POST', headers, body: JSON.stringify({ resourceType: 'Patient', active: true }) })
  t.assert.strictEqual(created.status, 201)
  const patient = await created.json() as { id: string, meta: { versionId: string } }
  t.assert.strictEqual(created.headers.get('location'), `${target}/Patient/${patient.id}/_history/1`)
  t.assert.strictEqual(patient.meta.versionId, '1')
  t.assert.strictEqual((await fetch(created.headers.get('location') ?? '', { headers })).status, 200)
  t.assert.strictEqual((await fetch(`${target}/Patient/${patient.id}`, { headers })).status, 200)
  t.assert.strictEqual((await fetch(`${target}/Patient`, { method: 'POST', headers, body: '{"resourceType":"Observation"}' })).status, 400)

  const page1 = await (await fetch(`${target}/Patient?_count=3`, { headers })).json() as { total: number, link: Array<{ relation: string, url: string }>, entry: Array<{ fullUrl: string }> }
  t.assert.strictEqual(page1.total, 4)
  t.assert.deepStrictEqual(page1.link, [
    { relation: 'self', url: `${target}/Patient?_count=3&page=1` },
    { relation: 'first', url: `${target}/Patient?_count=3&page=1` },
    { relation: 'next', url: `${target}/Patient?_count=3&page=2` }
  ])
  t.assert.ok(page1.entry.every((entry) => entry.fullUrl.startsWith(`${target}/Patient/`)))
  const page2 = await (await fetch(page1.link[2]?.url ?? '', { headers })).json() as { link: Array<{ relation: string, url: string }>, entry: unknown[] }
  t.assert.strictEqual(page2.entry.length, 1)
  t.assert.deepStrictEqual(page2.link.map((link) => link.relation), ['self', 'first', 'previous'])
})
