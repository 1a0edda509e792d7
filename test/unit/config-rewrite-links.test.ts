import { test, type TestContext } from 'node:test'
import type { ConfigIssue } from '../../src/config/issues.js'
import { resolveConfig } from '../../src/config/load.js'
import { applyPreset } from '../../src/config/preset-merge.js'
import { presetDefaults } from '../../src/config/presets.js'

test('rewriteLinks defaults to none; fhir and none are the values', (t: TestContext) => {
  const plain = resolveConfig({ upstreams: { a: { target: 'http://127.0.0.1:9' }, b: { target: 'http://127.0.0.1:9', rewriteLinks: 'fhir' } } }, { env: {} })
  t.assert.strictEqual(plain.config?.upstreams[0]?.rewriteLinks, 'none')
  t.assert.strictEqual(plain.config?.upstreams[1]?.rewriteLinks, 'fhir')
  const bad = resolveConfig({ upstreams: { a: { target: 'http://127.0.0.1:9', rewriteLinks: 'html' } } }, { env: {} })
  t.assert.deepStrictEqual(bad.issues?.map((issue) => issue.path), ['upstreams.a.rewriteLinks'])
})

test('the halaxy presets set fhir, redox does not, and the config wins', (t: TestContext) => {
  const issues: ConfigIssue[] = []
  const halaxy = { headers: { 'User-Agent': 'Acme (dev@acme.example)' }, auth: { clientId: 'a', clientSecret: 'b' } }
  t.assert.strictEqual(applyPreset({ preset: 'halaxy', ...halaxy }, 'upstreams.h', issues).rewriteLinks, 'fhir')
  t.assert.strictEqual(applyPreset({ preset: 'halaxy-eu', ...halaxy }, 'upstreams.h', issues).rewriteLinks, 'fhir')
  t.assert.strictEqual(applyPreset({ preset: 'halaxy', ...halaxy, rewriteLinks: 'none' }, 'upstreams.h', issues).rewriteLinks, 'none')
  t.assert.deepStrictEqual(issues, [])
  for (const name of ['redox', 'photon', 'photon-sandbox'] as const) {
    t.assert.strictEqual((presetDefaults(name, undefined, {}).defaults as { rewriteLinks?: string }).rewriteLinks, undefined, name)
  }
})
