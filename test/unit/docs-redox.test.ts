/**
 * docs/vendors/redox.md's "Try it against the sandbox" works as written: the
 * `keygen --out` line makes the key pair, the `sandbox --redox-jwks …
 * --redox-client-id …` line starts the sandbox with its public half, the
 * sandbox-redox.yaml shown (its `${file:}` key relative to itself) signs in
 * with the private half, and the curl line gets its 200. Taken from the guide's
 * text, so a guide that drifts from the CLI fails here. Two liberties: the
 * checkout's top folder is a tmp folder (no key is written into the
 * repository), and ports are free ones instead of 9999 and 8080.
 */
import { test, type TestContext } from 'node:test'
import { readFileSync, statSync, writeFileSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { isAbsolute, join } from 'node:path'
import { formatIssues } from '../../src/config/issues.js'
import { loadConfigFile } from '../../src/config/load.js'
import { buildServer } from '../../src/server.js'
import { REPO_ROOT, runCli, startCli } from '../helpers/cli-process.js'
import { fixtureDir } from '../helpers/fixtures.js'
import { logSink } from '../helpers/log-sink.js'

/** The options whose value is a path (relative to the folder the commands run in). */
const PATH_OPTIONS = new Set(['--out', '--redox-jwks', '--config'])

/** tollgate's arguments in each `npx --no -- tollgate …` line of a shell block, comments dropped. */
function tollgateCommands (shell: string): string[][] {
  return shell.split('\n')
    .map((line) => /\bnpx --no -- tollgate\b([^#]*)/.exec(line)?.[1]?.trim())
    .filter((args): args is string => args !== undefined)
    .map((args) => args === '' ? [] : args.split(/\s+/))
}

function inFolder (args: readonly string[], dir: string): string[] {
  return args.map((arg, i) => i > 0 && PATH_OPTIONS.has(args[i - 1] as string) && !isAbsolute(arg) ? join(dir, arg) : arg)
}

test('docs/vendors/redox.md: the sandbox walk-through runs as written', async (t: TestContext) => {
  const guide = readFileSync(join(REPO_ROOT, 'docs', 'vendors', 'redox.md'), 'utf8')
  const section = guide.slice(guide.indexOf('## Try it against the sandbox'))
  const blocks = [...section.matchAll(/```(\w*)\n([\s\S]*?)```/g)].map((match) => ({ lang: match[1] as string, text: match[2] as string }))
  const shell = blocks.filter((block) => block.lang === 'sh').map((block) => block.text).join('\n')
  const yaml = blocks.find((block) => block.lang === 'yaml' && block.text.startsWith('# sandbox-redox.yaml'))?.text
  if (yaml === undefined) throw new Error('no ```yaml block starting "# sandbox-redox.yaml"')

  const commands = tollgateCommands(shell)
  const keygen = commands.find((args) => args[0] === 'keygen')
  const sandbox = commands.find((args) => args[0] === 'sandbox')
  const run = commands.find((args) => args[0] === '--config')
  const curl = /curl '?http:\/\/127\.0\.0\.1:8080(\/redox\/[^\s']*)'?\s*#\s*(\d{3})/.exec(shell)
  if (keygen?.includes('--out') !== true) throw new Error(`no keygen --out line: ${JSON.stringify(commands)}`)
  if (sandbox?.includes('--redox-jwks') !== true || !sandbox.includes('--redox-client-id')) throw new Error('no sandbox --redox-jwks FILE --redox-client-id ID line')
  if (run === undefined) throw new Error('no --config sandbox-redox.yaml line')
  if (curl === null) throw new Error('no curl line to http://127.0.0.1:8080/redox/... with the status it gets')

  // The checkout's top folder: where the commands run and sandbox-redox.yaml is saved.
  const top = fixtureDir(t).dir

  const made = await runCli(t, inFolder(keygen, top))
  t.assert.strictEqual(made.code, 0, made.stderr)
  const outDir = inFolder(keygen, top)[keygen.indexOf('--out') + 1] as string
  const kid = keygen[keygen.indexOf('--kid') + 1] as string
  t.assert.strictEqual(statSync(join(outDir, `${kid}.pem`)).mode & 0o777, 0o600, 'the private key is mode 600')

  const sandboxArgs = inFolder(sandbox, top).map((arg, i, all) => all[i - 1] === '--port' ? '0' : arg)
  const vendors = startCli(t, sandboxArgs)
  const [, sandboxUrl] = await vendors.waitForStdout(/listening on (http:\/\/127\.0\.0\.1:\d+)/)
  t.after(async () => {
    vendors.child.kill('SIGTERM')
    await vendors.exited
  })

  const configFile = inFolder(run, top)[1] as string
  writeFileSync(configFile, yaml.replaceAll('http://127.0.0.1:9999', sandboxUrl as string))
  const loaded = loadConfigFile(configFile, {})
  t.assert.strictEqual(loaded.issues, undefined, loaded.issues === undefined ? '' : formatIssues(loaded.issues))
  const sidecar = await buildServer(loaded.config as NonNullable<typeof loaded.config>, { logStream: logSink().stream })
  t.after(async () => { await sidecar.app.close() })
  await sidecar.app.listen({ host: '127.0.0.1', port: 0 })
  const port = (sidecar.app.server.address() as AddressInfo).port

  const answer = await fetch(`http://127.0.0.1:${port}${curl[1] as string}`)
  t.assert.strictEqual(answer.status, Number(curl[2]), await answer.text())
})
