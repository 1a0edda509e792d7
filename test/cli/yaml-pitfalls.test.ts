import { test, type TestContext } from 'node:test'
import { runCli } from '../helpers/cli-process.js'
import { fixtureDir } from '../helpers/fixtures.js'

const SECRET = 'yaml-pitfall-secret-5e1f'

function upstream (auth: string): string {
  return `upstreams:\n  a:\n    target: https://a.example\n    auth: ${auth}\n`
}

// Each case spawns the CLI through tsx (~1.5 s of start-up): a few at a time.
test('YAML pitfalls are config problems with a path or a line, never an echo of the secret', { concurrency: 3, timeout: 90_000 }, async (t: TestContext) => {
  const dir = fixtureDir(t)

  await Promise.all([
    // The yaml package reported an unknown tag or directive as a process warning, with the
    // source line (the secret) under it, and the config then loaded with the tag ignored.
    t.test('an unknown tag (!vault, !Ref) is refused by its line, and the line is not echoed', async (t: TestContext) => {
      const file = dir.write('tag.yaml', upstream(`{ type: static_bearer, token: !vault ${SECRET} }`))
      const { code, stdout, stderr } = await runCli(t, ['check', file])
      t.assert.strictEqual(code, 1, stderr)
      t.assert.strictEqual(stdout, '')
      t.assert.match(stderr, /tag\.yaml: invalid config\n\(config\): .*tag: !vault at line 4/)
      t.assert.ok(!stderr.includes(SECRET), stderr)
      t.assert.doesNotMatch(stderr, /YAMLWarning|\(node:\d+\)/)
    }),

    t.test('an unknown %directive is refused too', async (t: TestContext) => {
      const file = dir.write('directive.yaml', `%FOO ${SECRET}\n---\n${upstream('{ type: none }')}`)
      const { code, stderr } = await runCli(t, ['check', file])
      t.assert.strictEqual(code, 1, stderr)
      t.assert.match(stderr, /directive %FOO/)
      t.assert.ok(!stderr.includes(SECRET), stderr)
    })
  ])
})
