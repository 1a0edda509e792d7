import { test, type TestContext } from 'node:test'
import { resolveConfig } from '../../src/config/load.js'

// "Anything set in the config wins": a redox upstream that sets its own clientAuth was refused
// with `auth.signingAlg: only used with clientAuth private_key_jwt`, a key the preset wrote, not the user.
test('a clientAuth set in the config wins over the preset\'s, without the preset\'s signing keys left behind', (t: TestContext) => {
  t.plan(4)
  const result = resolveConfig({
    upstreams: { r: { preset: 'redox', target: 'http://127.0.0.1:9', auth: { tokenUrl: 'http://127.0.0.1:9/token', clientAuth: 'client_secret_post', clientId: 'x', clientSecret: 'y-secret' } } }
  }, { env: {} })
  t.assert.deepStrictEqual(result.issues, undefined)
  const auth = result.config?.upstreams[0]?.auth
  t.assert.strictEqual(auth?.type === 'oauth2_client_credentials' ? auth.clientAuth : undefined, 'client_secret_post')
  // A signingAlg the user writes with another clientAuth is still their mistake, and reported.
  const written = resolveConfig({
    upstreams: { r: { preset: 'redox', auth: { clientAuth: 'client_secret_post', signingAlg: 'RS256', clientId: 'x', clientSecret: 'y-secret' } } }
  }, { env: {} })
  t.assert.deepStrictEqual(written.issues?.map((issue) => issue.path), ['upstreams.r.auth.signingAlg'])
  t.assert.match(written.issues?.[0]?.message ?? '', /only used with clientAuth private_key_jwt/)
})
