/**
 * The token request identifies the application as the upstream's API
 * requests do: the configured `User-Agent` (its name matched
 * case-insensitively) goes on the token request too; no other configured
 * header does (contract, "Tokens"; Halaxy asks every request to carry it).
 */
import { test, type TestContext } from 'node:test'
import { startOrigin } from '../helpers/origin.js'
import { startSidecar } from '../helpers/sidecar.js'
import { startTokenEndpoint, tokenReply } from '../helpers/token-endpoint.js'

const USER_AGENT = 'Acme Clinic Sync (dev@acme.example)'

for (const name of ['User-Agent', 'user-agent', 'USER-AGENT']) {
  test(`the configured ${name} goes on the token request; other configured headers do not`, async (t: TestContext) => {
    t.plan(5)
    const endpoint = await startTokenEndpoint(t, () => tokenReply('ua-token', 3600))
    const origin = await startOrigin(t)
    const { url } = await startSidecar(t, {
      upstreams: {
        vendor: {
          target: origin.url,
          headers: { [name]: USER_AGENT, 'X-Api-Key': 'api-key-value', Accept: 'application/fhir+json' },
          auth: { type: 'oauth2_client_credentials', tokenUrl: endpoint.url, clientId: 'id', clientSecret: 'ua-secret-value' }
        }
      }
    })
    const res = await fetch(`${url}/vendor/Patient`)
    t.assert.strictEqual(res.status, 200)
    await res.arrayBuffer()
    const token = endpoint.requests[0]
    t.assert.strictEqual(token?.headers['user-agent'], USER_AGENT, 'the token request names the application')
    t.assert.strictEqual(token?.headers['x-api-key'], undefined, 'other configured headers stay on API requests')
    t.assert.strictEqual(token?.headers.accept, 'application/json', 'the token request keeps its own Accept')
    t.assert.strictEqual(origin.requests[0]?.headers['user-agent'], USER_AGENT, 'and the API request carries it as before')
  })
}

test('the Halaxy preset: its required User-Agent reaches the token endpoint', async (t: TestContext) => {
  t.plan(2)
  const endpoint = await startTokenEndpoint(t, () => tokenReply('halaxy-token', 900))
  const origin = await startOrigin(t)
  const { url } = await startSidecar(t, {
    upstreams: {
      halaxy: {
        preset: 'halaxy',
        target: `${origin.url}/main`,
        headers: { 'User-Agent': USER_AGENT },
        auth: { tokenUrl: endpoint.url, clientId: 'halaxy-id', clientSecret: 'halaxy-secret-value' }
      }
    }
  })
  const res = await fetch(`${url}/halaxy/Patient`)
  t.assert.strictEqual(res.status, 200)
  await res.arrayBuffer()
  t.assert.strictEqual(endpoint.requests[0]?.headers['user-agent'], USER_AGENT)
})

test('without a configured User-Agent the token request sends none of its own invention', async (t: TestContext) => {
  t.plan(2)
  const endpoint = await startTokenEndpoint(t, () => tokenReply('plain-token', 3600))
  const origin = await startOrigin(t)
  const { url } = await startSidecar(t, {
    upstreams: { vendor: { target: origin.url, auth: { type: 'oauth2_client_credentials', tokenUrl: endpoint.url, clientId: 'id', clientSecret: 'plain-secret-value' } } }
  })
  const res = await fetch(`${url}/vendor/x`)
  t.assert.strictEqual(res.status, 200)
  await res.arrayBuffer()
  t.assert.strictEqual(endpoint.requests[0]?.headers['user-agent'], undefined)
})
