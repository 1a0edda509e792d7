import { test, type TestContext } from 'node:test'
import { runCli } from '../helpers/cli-process.js'
import { fixtureDir } from '../helpers/fixtures.js'

// `tollgate --conifg tollgate.yaml`: the misspelt flag took no value, so the file name was read
// as a command, and the answer was "unknown command: tollgate.yaml", which hides the typo.
test('a misspelt flag before a file name is named as the unknown option, not the file as a command', { timeout: 30_000 }, async (t: TestContext) => {
  t.plan(4)
  const dir = fixtureDir(t)
  const file = dir.write('tollgate.yaml', 'upstreams:\n  a:\n    target: http://127.0.0.1:9\n')
  const { code, stdout, stderr } = await runCli(t, ['--conifg', file])
  t.assert.strictEqual(code, 2, stderr)
  t.assert.strictEqual(stdout, '')
  t.assert.match(stderr, /^tollgate: unknown option --conifg; valid: --config, --port\n/)
  t.assert.doesNotMatch(stderr, /unknown command/)
})
