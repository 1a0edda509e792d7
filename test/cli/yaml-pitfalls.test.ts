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

    // Header values are text, but YAML read `X-Account: 0123` as the number 123 and tollgate sent "123"
    // (a credential in `X-Api-Key` silently changed the same way), `X-Api-Version: 1.10` as "1.1",
    // and refused `X-Flag: True` as the wrong type.
    t.test('a header value YAML would read as a number or boolean is sent as written', async (t: TestContext) => {
      const file = dir.write('headers.yaml', 'upstreams:\n  a:\n    target: https://a.example\n    headers:\n      X-Account: 0123\n      X-Api-Version: 1.10\n      X-Big: 1e3\n      X-Flag: True\n      X-Plain: 42\n')
      const { code, stdout, stderr } = await runCli(t, ['check', file, '--format', 'json'])
      t.assert.strictEqual(code, 0, stderr)
      const { headers } = (JSON.parse(stdout) as { upstreams: { a: { headers: Record<string, string> } } }).upstreams.a
      t.assert.deepStrictEqual({ ...headers }, {
        'x-account': '0123',
        'x-api-version': '1.10',
        'x-big': '1e3',
        'x-flag': 'True',
        'x-plain': '42'
      })
    }),

    // "must be a string" alone left a newcomer looking at `clientSecret: 0123` that is plainly written there.
    t.test('a secret YAML reads as a number or boolean: refused, with the fix (quotes) and not the value', async (t: TestContext) => {
      const file = dir.write('scalars.yaml', 'upstreams:\n  a:\n    target: https://a.example\n    auth:\n      type: oauth2_client_credentials\n      tokenUrl: https://a.example/token\n      clientId: 0042\n      clientSecret: 9876543210123\n  b:\n    target: https://b.example\n    auth: { type: static_bearer, token: true }\n')
      const { code, stderr } = await runCli(t, ['check', file])
      t.assert.strictEqual(code, 1, stderr)
      t.assert.match(stderr, /\nupstreams\.a\.auth\.clientId: must be a string: YAML reads this value as a number; put it in quotes\n/)
      t.assert.match(stderr, /\nupstreams\.a\.auth\.clientSecret: must be a string: YAML reads this value as a number; put it in quotes\n/)
      t.assert.match(stderr, /\nupstreams\.b\.auth\.token: must be a string: YAML reads this value as a boolean; put it in quotes\n/)
      t.assert.ok(!stderr.includes('9876543210123') && !stderr.includes('42'), stderr)
    }),

    t.test('a list where a map belongs says "map", not zod\'s "record"', async (t: TestContext) => {
      const file = dir.write('list.yaml', 'upstreams:\n  - a:\n      target: https://a.example\n')
      const { code, stderr } = await runCli(t, ['check', file])
      t.assert.strictEqual(code, 1, stderr)
      t.assert.match(stderr, /\nupstreams: must be a map \(key: value\), not a list\n/)
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
