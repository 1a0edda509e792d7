import { createSign, createVerify } from 'node:crypto'
import { test, type TestContext } from 'node:test'
import { importJWK, exportSPKI } from 'jose'
import { startCli } from '../helpers/cli-process.js'

test('npx tollgate with no config runs the demo: every printed curl line answers 200 through the sidecar, SIGTERM exits 0', async (t: TestContext) => {
  const cli = startCli(t, ['--port', '0'])
  const deadline = Date.now() + 20_000
  while (!/Ctrl-C stops it/.test(cli.stderr())) {
    t.assert.ok(Date.now() < deadline, `the demo did not start: ${cli.stderr()}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  const urls = [...cli.stderr().matchAll(/curl -i '([^']+)'/g)].map((match) => match[1] as string)
  t.assert.strictEqual(urls.length, 7, 'one curl line per preset')
  for (const url of urls) {
    const res = await fetch(url)
    t.assert.strictEqual(res.status, 200, `${url} answered ${res.status}: ${await res.text()}`)
    await res.arrayBuffer().catch(() => {})
  }
  const status = await (await fetch(new URL('/status', urls[0]))).json() as { upstreams: Record<string, { auth: { state: string } }> }
  t.assert.deepStrictEqual(Object.values(status.upstreams).map((upstream) => upstream.auth.state), Array(7).fill('valid'))
  cli.child.kill('SIGTERM')
  const { code } = await cli.exited
  t.assert.strictEqual(code, 0)
})

test('tollgate keygen prints a private key and the JWKS of its public half, with the kid', async (t: TestContext) => {
  const cli = startCli(t, ['keygen', '--kid', 'test-kid-1'])
  const { code } = await cli.exited
  t.assert.strictEqual(code, 0, cli.stderr())
  const out = cli.stdout()
  const pem = /-----BEGIN PRIVATE KEY-----[\s\S]+?-----END PRIVATE KEY-----\n/.exec(out)?.[0]
  t.assert.ok(pem !== undefined, 'no PKCS#8 PEM printed')
  const jwks = JSON.parse(out.slice(out.indexOf('{'))) as { keys: Array<Record<string, string>> }
  const [jwk] = jwks.keys
  t.assert.strictEqual(jwk?.kid, 'test-kid-1')
  t.assert.strictEqual(jwk?.alg, 'RS384')
  t.assert.strictEqual(jwk?.use, 'sig')
  t.assert.strictEqual(jwk?.d, undefined, 'the JWKS must hold only the public key')
  // The public half verifies what the private half signs.
  const publicPem = await exportSPKI(await importJWK(jwk as never, 'RS384', { extractable: true }) as CryptoKey)
  const signature = createSign('sha384').update('tollgate').sign(pem)
  t.assert.ok(createVerify('sha384').update('tollgate').verify(publicPem, signature))
})
