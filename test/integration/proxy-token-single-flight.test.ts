import { test, type TestContext } from 'node:test'
import { Agent } from 'undici'
import { startOrigin } from '../helpers/origin.js'
import { startSidecar } from '../helpers/sidecar.js'
import { startTokenEndpoint, tokenReply } from '../helpers/token-endpoint.js'

test('500 concurrent requests on a cold upstream cause exactly one token request, and all carry that token', async (t: TestContext) => {
  const tokenEndpoint = await startTokenEndpoint(t, async () => {
    // Slow enough that all 500 arrive while the fetch is in flight.
    await new Promise((resolve) => setTimeout(resolve, 150))
    return tokenReply('single-flight-token-1', 3600)
  })
  const seen: string[] = []
  const origin = await startOrigin(t, (req, res) => {
    seen.push(req.headers.authorization ?? '')
    req.resume()
    res.end('ok')
  })
  const sidecar = await startSidecar(t, {
    upstreams: {
      vendor: {
        target: origin.url,
        auth: { type: 'oauth2_client_credentials', tokenUrl: tokenEndpoint.url, clientId: 'id', clientSecret: 'single-flight-secret' }
      }
    }
  })
  const client = new Agent({ connections: 500 })
  t.after(() => client.close())
  const statuses = await Promise.all(Array.from({ length: 500 }, async (_, i) => {
    const res = await fetch(`${sidecar.url}/vendor/p/${i}`, { dispatcher: client } as RequestInit)
    await res.arrayBuffer()
    return res.status
  }))
  t.assert.deepStrictEqual(new Set(statuses), new Set([200]))
  t.assert.strictEqual(tokenEndpoint.requests.length, 1)
  t.assert.strictEqual(seen.length, 500)
  t.assert.deepStrictEqual(new Set(seen), new Set(['Bearer single-flight-token-1']))
  const log = sidecar.logs.text()
  t.assert.ok(!log.includes('single-flight-token-1'), 'the token reached the log')
  t.assert.ok(!log.includes('single-flight-secret'), 'the secret reached the log')
})
