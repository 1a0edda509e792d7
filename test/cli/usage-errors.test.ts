import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { REPO_ROOT, runCli } from '../helpers/cli-process.js'
import { fixtureDir } from '../helpers/fixtures.js'

const VERSION = (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version

const GOOD = 'server:\n  port: 0\nupstreams:\n  a:\n    target: http://127.0.0.1:9\n'

/** A usage error: exit 2, tollgate's words on stderr (not node's parseArgs text, no stack), nothing on stdout. */
function assertUsageError (t: TestContext, run: { code: number | null, stdout: string, stderr: string }, ...patterns: RegExp[]): void {
  t.assert.strictEqual(run.code, 2, run.stderr)
  // tollgate's prefix, or the command's name as in "doctor does not take --port".
  t.assert.match(run.stderr, /^(tollgate: |[a-z]+ does not take )/, 'the first line is tollgate\'s')
  for (const pattern of patterns) t.assert.match(run.stderr, pattern)
  t.assert.doesNotMatch(run.stderr, /To specify a positional argument|ERR_PARSE_ARGS|\n\s+at /, 'node\'s words or a stack trace')
  t.assert.strictEqual(run.stdout, '')
}

// Each case spawns the CLI through tsx (~1.5 s of start-up): a few at a time.
test('usage: commands, flags per command, --version, help', { concurrency: 3, timeout: 90_000 }, async (t: TestContext) => {
  const dir = fixtureDir(t)
  const good = dir.write('good.yaml', GOOD)

  await Promise.all([
    t.test('--version prints the package.json version and exits 0', async (t: TestContext) => {
      const { code, stdout, stderr } = await runCli(t, ['--version'])
      t.assert.strictEqual(code, 0, stderr)
      t.assert.strictEqual(stdout, `${VERSION}\n`)
    }),

    t.test('`tollgate help` prints what --help prints, on stdout, exit 0', async (t: TestContext) => {
      const [help, flag] = await Promise.all([runCli(t, ['help']), runCli(t, ['--help'])])
      t.assert.strictEqual(help.code, 0, help.stderr)
      t.assert.strictEqual(flag.code, 0, flag.stderr)
      t.assert.match(help.stdout, /Usage:/)
      t.assert.strictEqual(help.stdout, flag.stdout)
      // The contract's command lines are all in it.
      for (const line of ['tollgate --config FILE', 'tollgate check', 'tollgate keygen [--kid ID]', 'tollgate sandbox [--port N]', 'tollgate demo', 'tollgate --version']) {
        t.assert.ok(help.stdout.includes(line), `usage lacks "${line}"`)
      }
    }),

    t.test('check FILE (positional) works as check --config FILE', async (t: TestContext) => {
      const { code, stdout, stderr } = await runCli(t, ['check', good])
      t.assert.strictEqual(code, 0, stderr)
      t.assert.match(stdout, /: ok \(1 upstream/)
    }),

    t.test('check FILE and --config FILE together: exit 2', async (t: TestContext) => {
      assertUsageError(t, await runCli(t, ['check', good, '--config', good]), /--config/)
    }),

    t.test('an unknown option, in tollgate\'s words with the valid ones', async (t: TestContext) => {
      assertUsageError(t, await runCli(t, ['check', '--foo']), /unknown option --foo for `check`; valid: --config, --print/)
    }),

    t.test('an unknown option with no command', async (t: TestContext) => {
      assertUsageError(t, await runCli(t, ['--foo']), /unknown option --foo/, /valid: .*--config/)
    }),

    t.test('keygen --port: a flag of another command is refused', async (t: TestContext) => {
      assertUsageError(t, await runCli(t, ['keygen', '--port', '8080']), /^keygen does not take --port \(that is for [^)]*sandbox[^)]*\); valid: --kid, --alg, --out/)
    }),

    t.test('check --kid: a flag of another command is refused', async (t: TestContext) => {
      assertUsageError(t, await runCli(t, ['check', '--config', good, '--kid', 'x']), /^check does not take --kid \(that is for keygen\); valid: --config, --print, --format/)
    }),

    t.test('keygen --alg HS256: exit 2 with the algorithms keygen makes (not jose\'s JOSENotSupported)', async (t: TestContext) => {
      const run = await runCli(t, ['keygen', '--alg', 'HS256'])
      assertUsageError(t, run, /HS256/, /RS256, RS384, RS512, PS256, ES256, ES384/)
      t.assert.doesNotMatch(run.stderr, /JOSE/)
    }),

    t.test('keygen --kid "": refused', async (t: TestContext) => {
      assertUsageError(t, await runCli(t, ['keygen', '--kid', '']), /--kid/, /empty/)
    }),

    t.test('a string option without its value: refused, not swallowing the next flag', async (t: TestContext) => {
      assertUsageError(t, await runCli(t, ['keygen', '--kid', '--alg', 'RS256']), /--kid needs a value/)
    }),

    t.test('a boolean flag given a value: refused', async (t: TestContext) => {
      assertUsageError(t, await runCli(t, ['check', good, '--print=yes']), /--print takes no value/)
    }),

    t.test('an extra argument: refused', async (t: TestContext) => {
      assertUsageError(t, await runCli(t, ['keygen', 'extra']), /unexpected argument extra for `keygen`/)
    }),

    t.test('--port that is not a port: refused', async (t: TestContext) => {
      assertUsageError(t, await runCli(t, ['sandbox', '--port', '80a']), /--port must be a port number \(0-65535\), not 80a/)
    }),

    t.test('an unknown command: exit 2 with the commands', async (t: TestContext) => {
      const run = await runCli(t, ['frobnicate'])
      t.assert.strictEqual(run.code, 2)
      t.assert.match(run.stderr, /^tollgate: unknown command: frobnicate; valid: (?=.*\bcheck\b)(?=.*\bdemo\b)(?=.*\bkeygen\b)(?=.*\bsandbox\b)/)
      t.assert.match(run.stderr, /Usage:/)
    })
  ])
})
