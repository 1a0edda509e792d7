/**
 * The commands the docs show work as shown.
 *
 * - Every `npx … tollgate` in README.md, docs/ and the example configs keeps
 *   npx's registry fallback off (`--no`: the `tollgate` on the registry is not
 *   this project) and hands tollgate its own arguments: after `--`, or with a
 *   subcommand first. npx reads options up to the first word it takes for a
 *   command, and with `--no` it does not take `tollgate` for one, so
 *   `npx --no tollgate --version` prints npm's version and
 *   `npx --no tollgate --config FILE` gives `--config` to npm.
 * - The README's worked example: the config it shows, saved as it says,
 *   passes validation with exactly the variables its shell lines set.
 */
import { test, type TestContext } from 'node:test'
import { readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { loadConfigFile } from '../../src/config/load.js'
import { REPO_ROOT } from '../helpers/cli-process.js'
import { fixtureDir } from '../helpers/fixtures.js'

/** README.md, docs/**\/*.md and config/*.yaml, as repository paths. */
function docFiles (): string[] {
  const found = ['README.md']
  const walk = (dir: string): void => {
    for (const entry of readdirSync(join(REPO_ROOT, dir), { withFileTypes: true })) {
      if (entry.isDirectory()) walk(`${dir}/${entry.name}`)
      else if (entry.name.endsWith('.md')) found.push(`${dir}/${entry.name}`)
    }
  }
  walk('docs')
  for (const name of readdirSync(join(REPO_ROOT, 'config'))) if (/\.ya?ml$/.test(name)) found.push(`config/${name}`)
  return found.sort()
}

/**
 * Why an `npx … tollgate …` command line would not run this checkout's tollgate
 * with the arguments shown, or undefined when it would.
 */
function npxProblem (line: string): string | undefined {
  const match = /\bnpx((?:\s+-[^\s`]*)*)\s+tollgate\b(.*)$/.exec(line)
  if (match === null) return undefined
  const options = (match[1] as string).trim().split(/\s+/).filter((option) => option !== '')
  const rest = (match[2] as string).trim()
  if (!options.includes('--no')) return 'without --no, npx installs whatever `tollgate` the registry has'
  if (options.at(-1) === '--') return undefined
  // No `--`: fine only when tollgate's first argument is a subcommand (or there is none).
  if (/^-/.test(rest)) return 'without --, npx gives the options after `tollgate` to npm: write `npx --no -- tollgate`'
  return undefined
}

test('every npx command in the docs runs this checkout\'s tollgate, never the registry\'s', (t: TestContext) => {
  const problems: string[] = []
  let found = 0
  for (const file of docFiles()) {
    readFileSync(join(REPO_ROOT, file), 'utf8').split('\n').forEach((line, index) => {
      // One line may show several commands (`… or TOLLGATE_CONFIG=x npx --no -- tollgate`).
      for (const command of line.split(/(?=\bnpx\b)/)) {
        if (!/\bnpx\b[^\n]*\btollgate\b/.test(command)) continue
        found++
        const problem = npxProblem(command)
        if (problem !== undefined) problems.push(`${file}:${index + 1}: ${problem}: ${line.trim()}`)
      }
    })
  }
  t.assert.ok(found > 20, `only ${found} npx commands found`)
  t.assert.deepStrictEqual(problems, [])
})

test('npxProblem knows the forms that work from those that do not', (t: TestContext) => {
  for (const good of ['npx --no -- tollgate --config tollgate.yaml', 'npx --no -- tollgate', 'npx --no tollgate check --config x.yaml', 'npx --no tollgate', '`npx --no tollgate`', 'TOLLGATE_CONFIG=x npx --no -- tollgate', 'npx --no tollgate sandbox --port 9999']) {
    t.assert.strictEqual(npxProblem(good), undefined, good)
  }
  for (const bad of ['npx tollgate --config x', 'npx tollgate', 'npx --yes tollgate check', 'npx --no tollgate --version', 'npx --no tollgate --config tollgate.yaml', 'npx -- tollgate --help']) {
    t.assert.notStrictEqual(npxProblem(bad), undefined, bad)
  }
})

test('the README\'s worked example is valid with exactly the variables its shell lines set', (t: TestContext) => {
  const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8')
  const example = /```yaml\n(# tollgate\.yaml\n[\s\S]*?)```\s*```sh\n([\s\S]*?)```/.exec(readme)
  if (example === null) throw new Error('README.md: no ```yaml block starting "# tollgate.yaml" followed by its ```sh block')
  const [, yaml = '', shell = ''] = example
  t.assert.match(shell, /--config tollgate\.yaml\b/, 'the shell lines run the file the example names')

  // `export A=... B=...` and `A=... command`: the variables the reader is told to set.
  const env: Record<string, string> = {}
  for (const line of shell.split('\n')) {
    const assignments = /^\s*(?:export\s+)?((?:[A-Z_][A-Z0-9_]*=\S*\s*)+)/.exec(line)?.[1] ?? ''
    for (const [, name] of assignments.matchAll(/([A-Z_][A-Z0-9_]*)=/g)) env[name as string] = `value-of-${name as string}`
  }
  t.assert.ok(Object.keys(env).length > 0, 'the shell lines set no variable')

  // Saved as the README says, in a folder of its own: nothing else is there (no secret file).
  const dir = fixtureDir(t)
  const file = join(dir.dir, 'tollgate.yaml')
  writeFileSync(file, yaml)
  const result = loadConfigFile(file, env)
  t.assert.deepStrictEqual(result.issues, undefined, `the README's tollgate.yaml, with ${Object.keys(env).join(', ')} set, does not load`)
  t.assert.strictEqual(result.config?.upstreams[0]?.target, 'https://au-api.halaxy.com/main', 'the curl line\'s promise: /halaxy → https://au-api.halaxy.com/main')
})
