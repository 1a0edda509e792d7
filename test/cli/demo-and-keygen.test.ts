import { createPrivateKey, createSign, createVerify, randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { exportSPKI, importJWK, SignJWT } from 'jose'
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

test('tollgate sandbox --redox-jwks: the standalone sandbox verifies Redox assertions signed with the keygen key', async (t: TestContext) => {
  const keygen = startCli(t, ['keygen', '--kid', 'ci-kid'])
  t.assert.strictEqual((await keygen.exited).code, 0)
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-sandbox-redox-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const keyFile = join(dir, 'keygen.out')
  writeFileSync(keyFile, keygen.stdout())
  const pem = /-----BEGIN PRIVATE KEY-----[\s\S]+?-----END PRIVATE KEY-----\n/.exec(keygen.stdout())?.[0] as string

  const sandbox = startCli(t, ['sandbox', '--port', '0', '--redox-jwks', keyFile, '--redox-client-id', 'ci-client'])
  const [, base] = await sandbox.waitForStdout(/listening on (http:\/\/127\.0\.0\.1:\d+)/) as unknown as [string, string]
  const tokenUrl = `${base}/redox/v2/auth/token`
  const assertion = await new SignJWT({})
    .setProtectedHeader({ alg: 'RS384', kid: 'ci-kid', typ: 'JWT' })
    .setIssuer('ci-client').setSubject('ci-client').setAudience(tokenUrl).setJti(randomUUID()).setIssuedAt().setExpirationTime('60s')
    .sign(createPrivateKey(pem))
  const body = new URLSearchParams({ grant_type: 'client_credentials', client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: assertion })
  const res = await fetch(tokenUrl, { method: 'POST', body })
  t.assert.strictEqual(res.status, 200)
  const answer = await res.json() as Record<string, unknown>
  t.assert.strictEqual(typeof answer.access_token, 'string')
  sandbox.child.kill('SIGTERM')
  t.assert.strictEqual((await sandbox.exited).code, 0)
})
