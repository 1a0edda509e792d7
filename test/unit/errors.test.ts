import { readFileSync } from 'node:fs'
import { test, type TestContext } from 'node:test'
import * as errors from '../../src/errors.js'

// docs/errors.md is the user's reference: every TG_* code we can answer with must be in it (fastify test/internals/errors.test.js).
test('docs/errors.md lists every exported TG_* code with its status', (t: TestContext) => {
  const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8')
  const exported = Object.values(errors).map((Err) => new (Err as new (...args: unknown[]) => { code: string, statusCode: number })('x', 'y'))
  t.assert.ok(exported.length >= 10)
  for (const error of exported) {
    t.assert.ok(error.code.startsWith('TG_'), `${error.code} is not a TG_ code`)
    const row = doc.split('\n').find((line) => line.startsWith(`| \`${error.code}\``))
    t.assert.ok(row !== undefined, `${error.code} is missing from docs/errors.md`)
    t.assert.ok(row.includes(`| ${error.statusCode}`), `${error.code}: docs/errors.md does not give status ${error.statusCode}`)
  }
})
