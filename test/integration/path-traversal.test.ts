import { test, type TestContext } from 'node:test'
import { startOrigin, type Origin } from '../helpers/origin.js'
import { rawRequest, type RawResponse } from '../helpers/raw-http.js'
import { startSidecar } from '../helpers/sidecar.js'

async function setup (t: TestContext): Promise<{ url: string, halaxy: Origin, photon: Origin }> {
  const halaxy = await startOrigin(t)
  const photon = await startOrigin(t)
  const { url } = await startSidecar(t, { upstreams: { halaxy: { target: `${halaxy.url}/main` }, photon: { target: photon.url } } })
  return { url, halaxy, photon }
}

function problemOf (res: RawResponse): Record<string, unknown> {
  return JSON.parse(res.body) as Record<string, unknown>
}

const ESCAPES = [
  '/halaxy/..',
  '/halaxy/../x',
  '/halaxy/%2e%2e/x',
  '/halaxy/%2E%2e/x',
  '/halaxy/.%2e/x',
  '/halaxy/..%2fx',
  '/halaxy/x%2f..%2f..%2fy',
  '/halaxy/%2f../x',
  '/halaxy/..%5cx',
  '/halaxy/..%5c..%5cx',
  '/halaxy/..\\x',
  '/halaxy/a/..\\..\\x',
  '/halaxy/a/../../x',
  '/halaxy/..;/x'
]

test('every spelling of a climb out of the base is a 400 problem, and nothing reaches an origin', async (t: TestContext) => {
  t.plan(ESCAPES.length * 3 + 2)
  const { url, halaxy, photon } = await setup(t)
  for (const path of ESCAPES) {
    const res = await rawRequest(url, `GET ${path} HTTP/1.1`)
    t.assert.strictEqual(res.status, 400, `${path}: ${res.body}`)
    t.assert.strictEqual(res.headers['content-type'], 'application/problem+json; charset=utf-8', path)
    t.assert.strictEqual(problemOf(res).status, 400, path)
  }
  t.assert.deepStrictEqual(halaxy.requests.map((r) => r.url), [])
  t.assert.deepStrictEqual(photon.requests.map((r) => r.url), [])
})

test('/halaxy/../photon/x is 400 although photon exists, and photon receives nothing', async (t: TestContext) => {
  t.plan(4)
  const { url, photon } = await setup(t)
  const res = await rawRequest(url, 'GET /halaxy/../photon/x HTTP/1.1')
  t.assert.strictEqual(res.status, 400)
  const problem = problemOf(res)
  t.assert.strictEqual(problem.code, 'TG_PATH_ESCAPES_BASE')
  t.assert.strictEqual(problem.upstream, 'halaxy', 'the upstream it was sent under')
  t.assert.strictEqual(photon.requests.length, 0)
})

test('a dot-segment that stays inside the base is resolved and forwarded: /halaxy/a/../b → /main/b', async (t: TestContext) => {
  t.plan(4)
  const { url, halaxy } = await setup(t)
  const res = await rawRequest(url, 'GET /halaxy/a/../b?x=1 HTTP/1.1')
  t.assert.strictEqual(res.status, 200, res.body)
  t.assert.strictEqual(halaxy.requests[0]?.url, '/main/b?x=1')
  const dot = await rawRequest(url, 'GET /halaxy/a/./b HTTP/1.1')
  t.assert.strictEqual(dot.status, 200, dot.body)
  t.assert.strictEqual(halaxy.requests[1]?.url, '/main/a/b')
})

test('an absolute-form request target is refused with 400', async (t: TestContext) => {
  t.plan(4)
  const { url, halaxy, photon } = await setup(t)
  const res = await rawRequest(url, 'GET http://evil.example/x HTTP/1.1')
  t.assert.strictEqual(res.status, 400)
  t.assert.strictEqual(problemOf(res).code, 'TG_ABSOLUTE_FORM')
  const aimed = await rawRequest(url, `GET ${halaxy.url}/main/x HTTP/1.1`)
  t.assert.strictEqual(aimed.status, 400, 'even when it names a configured upstream')
  t.assert.strictEqual(halaxy.requests.length + photon.requests.length, 0)
})

test('CONNECT is refused with a 400 problem', async (t: TestContext) => {
  t.plan(3)
  const { url } = await setup(t)
  const res = await rawRequest(url, 'CONNECT evil.example:443 HTTP/1.1')
  t.assert.strictEqual(res.status, 400)
  t.assert.strictEqual(res.headers['content-type'], 'application/problem+json; charset=utf-8')
  t.assert.strictEqual(problemOf(res).status, 400)
})
