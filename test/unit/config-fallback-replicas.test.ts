/** `store.fallbackReplicas` (issue 17): a whole number of replicas, 1 or more, kept for the fallback share. */
import { test, type TestContext } from 'node:test'
import { formatIssues } from '../../src/config/issues.js'
import { resolveConfig } from '../../src/config/load.js'

function resolve (fallbackReplicas: unknown): { issues: string[], value: number | undefined } {
  const result = resolveConfig({ store: { type: 'redis', url: 'redis://127.0.0.1:6379', fallbackReplicas }, upstreams: { vendor: { target: 'http://127.0.0.1:9' } } }, { env: {} })
  return result.issues === undefined
    ? { issues: [], value: result.config.store.fallbackReplicas }
    : { issues: formatIssues(result.issues).split('\n'), value: undefined }
}

test('store.fallbackReplicas: 1 or more whole replicas; anything else names the field', (t: TestContext) => {
  t.assert.deepStrictEqual(resolve(3), { issues: [], value: 3 })
  t.assert.deepStrictEqual(resolve('2'), { issues: [], value: 2 }, 'a string of digits, as an interpolated variable gives')
  for (const bad of [0, -1, 1.5, 'three']) {
    const { issues } = resolve(bad)
    t.assert.strictEqual(issues.length, 1, `${String(bad)}: ${issues.join('; ')}`)
    t.assert.match(issues[0] ?? '', /^store\.fallbackReplicas: /)
  }
})
