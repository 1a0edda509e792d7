/**
 * Interoperability with a real authorization server: oidc-provider (the
 * server openid-client runs its end-to-end tests against), client
 * credentials grant, one client per client authentication method.
 */
import { test, type TestContext } from 'node:test'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { exportJWK, generateKeyPair } from 'jose'
// @ts-expect-error oidc-provider ships no type declarations
import Provider from 'oidc-provider'
import { createCredentialSource } from '../../src/auth/index.js'
import { generateKeyMaterial } from '../../src/auth/keygen.js'
import { oauthConfig } from '../helpers/token-endpoint.js'

interface OidcProvider { callback (): (req: unknown, res: unknown) => void }
type ProviderClass = new (issuer: string, configuration: object) => OidcProvider

const grant = { grant_types: ['client_credentials'], redirect_uris: [], response_types: [] }

test('a token from oidc-provider with client_secret_basic, client_secret_post and private_key_jwt (RS384, PS256, ES256)', async (t: TestContext) => {
  const keys = {
    RS384: await generateKeyMaterial({ alg: 'RS384', kid: 'rs' }),
    PS256: await generateKeyMaterial({ alg: 'PS256', kid: 'ps' }),
    ES256: await generateKeyMaterial({ alg: 'ES256', kid: 'es' })
  }
  // The provider's own signing key; without one it warns about development keys.
  const { privateKey } = await generateKeyPair('RS256', { extractable: true })

  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.after(() => new Promise<void>((resolve) => { server.close(() => resolve()); server.closeAllConnections() }))
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const provider = new (Provider as ProviderClass)(issuer, {
    jwks: { keys: [{ ...await exportJWK(privateKey), alg: 'RS256', use: 'sig' }] },
    features: { clientCredentials: { enabled: true }, devInteractions: { enabled: false } },
    // RS384 (Redox's algorithm) is not among oidc-provider's defaults.
    enabledJWA: { clientAuthSigningAlgValues: ['RS384', 'PS256', 'ES256'] },
    ttl: { ClientCredentials: 600 },
    clients: [
      { ...grant, client_id: 'basic-client', client_secret: 'a:b p@ss+', token_endpoint_auth_method: 'client_secret_basic' },
      { ...grant, client_id: 'post-client', client_secret: 'post secret', token_endpoint_auth_method: 'client_secret_post' },
      ...Object.entries(keys).map(([alg, { jwks }]) => ({
        ...grant,
        client_id: `jwt-client-${alg}`,
        token_endpoint_auth_method: 'private_key_jwt',
        token_endpoint_auth_signing_alg: alg,
        jwks
      }))
    ]
  })
  server.on('request', provider.callback())
  const tokenUrl = `${issuer}/token`

  const configs = [
    oauthConfig(tokenUrl, { clientId: 'basic-client', clientSecret: 'a:b p@ss+', clientAuth: 'client_secret_basic' }),
    oauthConfig(tokenUrl, { clientId: 'post-client', clientSecret: 'post secret', clientAuth: 'client_secret_post' }),
    ...Object.entries(keys).map(([alg, { privateKeyPem, jwks }]) => {
      const { clientSecret, ...rest } = oauthConfig(tokenUrl, {
        clientId: `jwt-client-${alg}`,
        clientAuth: 'private_key_jwt',
        privateKey: privateKeyPem,
        keyId: jwks.keys[0]?.kid as string,
        signingAlg: alg as keyof typeof keys
      })
      return rest
    })
  ]
  t.plan(configs.length * 2)
  for (const auth of configs) {
    const source = createCredentialSource(auth.clientId, auth)
    t.after(() => source.close())
    const value = await source.authorization()
    t.assert.match(value ?? '', /^Bearer [\w-]{20,}$/, auth.clientId)
    // oidc-provider's client credentials tokens last 10 minutes (expires_in 600).
    const { expiresAt = 0, lastRefreshAt = 0 } = source.status()
    t.assert.ok(Math.abs(expiresAt - lastRefreshAt - 600_000) < 2000, `${auth.clientId}: lifetime from expires_in`)
  }
})
