import { test, type TestContext } from 'node:test'
import { startOrigin } from '../helpers/origin.js'
import { rawRequest } from '../helpers/raw-http.js'
import { startSidecar } from '../helpers/sidecar.js'

interface Echo { method: string, url: string }

test('prefix match is on whole segments; a near miss is a 404 problem', async (t: TestContext) => {
  t.plan(9)
  const origin = await startOrigin(t)
  const { url } = await startSidecar(t, { upstreams: { halaxy: { target: `${origin.url}/main` } } })

  const exact = await fetch(`${url}/halaxy`)
  t.assert.strictEqual(exact.status, 200)
  t.assert.strictEqual(((await exact.json()) as Echo).url, '/main')
  const below = await fetch(`${url}/halaxy/x`)
  t.assert.strictEqual(((await below.json()) as Echo).url, '/main/x')

  const miss = await fetch(`${url}/halaxyfoo`)
  t.assert.strictEqual(miss.status, 404)
  t.assert.strictEqual(miss.headers.get('content-type'), 'application/problem+json; charset=utf-8')
  const problem = await miss.json() as Record<string, unknown>
  t.assert.strictEqual(problem.status, 404)
  t.assert.strictEqual(problem.code, 'TG_UPSTREAM_NOT_FOUND')
  t.assert.strictEqual(problem.upstream, undefined, 'no upstream matched')
  t.assert.strictEqual(origin.requests.length, 2, 'the near miss never reached the origin')
})

test('the longest prefix wins, on segment boundaries', async (t: TestContext) => {
  t.plan(6)
  const short = await startOrigin(t)
  const long = await startOrigin(t)
  const { url } = await startSidecar(t, { upstreams: { a: { target: short.url }, ab: { prefix: '/a/b', target: long.url } } })

  const get = async (path: string): Promise<string> => ((await (await fetch(url + path)).json()) as Echo).url
  t.assert.strictEqual(await get('/a/b/x'), '/x')
  t.assert.strictEqual(await get('/a/b'), '/')
  t.assert.strictEqual(await get('/a/bc'), '/bc', '/a/bc is not under /a/b')
  t.assert.strictEqual(await get('/a/x'), '/x')
  t.assert.deepStrictEqual(short.requests.map((r) => r.url), ['/bc', '/x'])
  t.assert.deepStrictEqual(long.requests.map((r) => r.url), ['/x', '/'])
})

test('the prefix is stripped and the target base path kept', async (t: TestContext) => {
  t.plan(2)
  const origin = await startOrigin(t)
  const { url } = await startSidecar(t, { upstreams: { halaxy: { target: `${origin.url}/main/v2/` } } })
  const res = await fetch(`${url}/halaxy/Patient/123/_history/2`)
  t.assert.strictEqual(res.status, 200)
  t.assert.strictEqual(((await res.json()) as Echo).url, '/main/v2/Patient/123/_history/2')
})

test('the query string is forwarded byte for byte', async (t: TestContext) => {
  t.plan(2)
  const origin = await startOrigin(t)
  const { url } = await startSidecar(t, { upstreams: { halaxy: { target: `${origin.url}/main` } } })
  const query = '?b=2&a=1&a=%20x&flag&empty=&q=a+b%2Fc&u=%E2%9C%93&semi=1;2&dup=&dup='
  const res = await rawRequest(url, `GET /halaxy/Patient${query} HTTP/1.1`)
  t.assert.strictEqual(res.status, 200)
  t.assert.strictEqual(origin.requests[0]?.url, `/main/Patient${query}`)
})

test('trailing slashes are kept as sent, on the prefix and below it', async (t: TestContext) => {
  t.plan(4)
  const origin = await startOrigin(t)
  // A target written with a trailing slash and a prefix written with one behave like the plain forms.
  const { url } = await startSidecar(t, { upstreams: { halaxy: { prefix: '/halaxy/', target: `${origin.url}/main/` } } })
  for (const path of ['/halaxy', '/halaxy/', '/halaxy/Patient', '/halaxy/Patient/']) await fetch(url + path)
  t.assert.strictEqual(origin.requests[0]?.url, '/main')
  t.assert.strictEqual(origin.requests[1]?.url, '/main/')
  t.assert.strictEqual(origin.requests[2]?.url, '/main/Patient')
  t.assert.strictEqual(origin.requests[3]?.url, '/main/Patient/')
})

test('empty path segments are forwarded, not refused', async (t: TestContext) => {
  t.plan(2)
  const origin = await startOrigin(t)
  const { url } = await startSidecar(t, { upstreams: { halaxy: { target: `${origin.url}/main` } } })
  // RFC 3986 allows empty segments; Envoy forwards them as sent, nginx merges them. Neither answers 400.
  const res = await rawRequest(url, 'GET /halaxy//files//a HTTP/1.1')
  t.assert.strictEqual(res.status, 200, res.body)
  t.assert.strictEqual(origin.requests[0]?.url, '/main//files//a')
})
