import { generateKeyPairSync } from 'node:crypto'
import { test, type TestContext } from 'node:test'
import { runCli } from '../helpers/cli-process.js'
import { fixtureDir } from '../helpers/fixtures.js'
import { takenPort } from '../helpers/ports.js'

/** A runtime failure: exit 1 and exactly one line on stderr that says what happened and what to do; no stack. */
function assertOneLine (t: TestContext, run: { code: number | null, stderr: string }, ...patterns: RegExp[]): void {
  t.assert.strictEqual(run.code, 1, run.stderr)
  const lines = run.stderr.trimEnd().split('\n')
  t.assert.strictEqual(lines.length, 1, `one line on stderr, got:\n${run.stderr}`)
  t.assert.match(lines[0] ?? '', /^tollgate: /)
  for (const pattern of patterns) t.assert.match(run.stderr, pattern)
}

test('a failure to start says so in one line on stderr, whatever the log level', { concurrency: 3, timeout: 90_000 }, async (t: TestContext) => {
  await Promise.all([
    t.test('log.level: silent and a taken port: exit 1 with a line, not silence', async (t: TestContext) => {
      const port = await takenPort(t)
      const file = fixtureDir(t).write('tollgate.yaml', `server:\n  port: ${port}\nlog:\n  level: silent\nupstreams:\n  a:\n    target: http://127.0.0.1:9\n`)
      const run = await runCli(t, ['--config', file])
      assertOneLine(t, run, new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port} \\(from server\\.port\\): the port is in use`), /server\.port/, /--port/)
      t.assert.strictEqual(run.stdout, '')
    }),

    t.test('a taken --port names --port as where the port came from', async (t: TestContext) => {
      const port = await takenPort(t)
      const file = fixtureDir(t).write('tollgate.yaml', 'server:\n  port: 0\nupstreams:\n  a:\n    target: http://127.0.0.1:9\n')
      const run = await runCli(t, ['--config', file, '--port', String(port)])
      assertOneLine(t, run, new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port} \\(from --port\\): the port is in use`))
    }),

    t.test('sandbox on a taken port: one line, no stack', async (t: TestContext) => {
      const port = await takenPort(t)
      assertOneLine(t, await runCli(t, ['sandbox', '--port', String(port)]), new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}`), /--port/)
    }),

    t.test('demo on a taken port: one line, no stack', async (t: TestContext) => {
      const port = await takenPort(t)
      assertOneLine(t, await runCli(t, ['demo', '--port', String(port)]), new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}`), /--port/)
    }),

    t.test('sandbox --redox-jwks with a key without kid: one line that says how to make one', async (t: TestContext) => {
      const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
      const jwks = fixtureDir(t).write('jwks.json', JSON.stringify({ keys: [{ ...publicKey.export({ format: 'jwk' }), alg: 'RS384', use: 'sig' }] }))
      assertOneLine(t, await runCli(t, ['sandbox', '--port', '0', '--redox-jwks', jwks]), /--redox-jwks .*jwks\.json: key 0 has no kid/, /tollgate keygen --kid/)
    }),

    t.test('sandbox --redox-jwks with a file that is no JWKS: one line', async (t: TestContext) => {
      const jwks = fixtureDir(t).write('jwks.json', '{"kty": "RSA"}')
      assertOneLine(t, await runCli(t, ['sandbox', '--port', '0', '--redox-jwks', jwks]), /--redox-jwks .*jwks\.json: /)
    })
  ])
})
