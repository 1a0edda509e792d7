import { test, type TestContext } from 'node:test'
import { applyPreset } from '../../src/config/preset-merge.js'
import { PRESET_NAMES, presetDefaults, presetSource, type PresetName } from '../../src/config/presets.js'
import { upstreamSchema } from '../../src/config/schema.js'

const NO_EXPLICIT = {}

test('the preset names are exactly the contract\'s', (t: TestContext) => {
  t.assert.deepStrictEqual([...PRESET_NAMES], ['halaxy', 'halaxy-eu', 'healthhero', 'redox', 'photon', 'photon-sandbox', 'nikohealth'])
})

// shared/vendors/halaxy.txt: token POST JSON to https://au-api.halaxy.com/main/oauth/token, secret in the
// body, "Access tokens are valid for 15 minutes", Accept application/fhir+json, User-Agent
// "APP_VENDOR_NAME (APP_VENDOR_EMAIL)", "500 requests per minute ... sliding window".
test('halaxy: the AU API, JSON client_secret_post, 15m clamp, FHIR Accept, 500 per minute', (t: TestContext) => {
  const result = presetDefaults('halaxy', undefined, NO_EXPLICIT)
  t.assert.deepStrictEqual(result.issues, [])
  t.assert.deepStrictEqual(result.defaults, {
    target: 'https://au-api.halaxy.com/main',
    headers: { Accept: 'application/fhir+json' },
    auth: {
      type: 'oauth2_client_credentials',
      tokenUrl: 'https://au-api.halaxy.com/main/oauth/token',
      clientAuth: 'client_secret_post',
      bodyEncoding: 'json',
      maxTokenTtl: '15m'
    },
    rateLimit: { requests: 500, window: '1m' },
    rewriteLinks: 'fhir'
  })
  t.assert.deepStrictEqual(result.requiredHeaders, [{
    name: 'User-Agent',
    hint: '"APP_VENDOR_NAME (APP_VENDOR_EMAIL)", e.g. "Acme Clinic Sync (dev@acme.example)"'
  }])
  t.assert.strictEqual(presetSource('halaxy').guide, 'docs/vendors/halaxy.md')
})

// shared/vendors/halaxy.txt: "Countries in the EU and UK must use https://eu-api.halaxy.com/main/".
test('halaxy-eu: the same preset on the EU host', (t: TestContext) => {
  const eu = presetDefaults('halaxy-eu', undefined, NO_EXPLICIT)
  const au = presetDefaults('halaxy', undefined, NO_EXPLICIT)
  t.assert.strictEqual(eu.defaults.target, 'https://eu-api.halaxy.com/main')
  t.assert.strictEqual(eu.defaults.auth.tokenUrl, 'https://eu-api.halaxy.com/main/oauth/token')
  t.assert.deepStrictEqual({ ...eu.defaults, target: '', auth: { ...eu.defaults.auth, tokenUrl: '' } }, { ...au.defaults, target: '', auth: { ...au.defaults.auth, tokenUrl: '' } })
  t.assert.deepStrictEqual(eu.requiredHeaders, au.requiredHeaders)
  t.assert.strictEqual(presetSource('halaxy-eu').guide, 'docs/vendors/halaxy.md')
})

// shared/vendors/healthhero.txt: POST form to https://<Identity_Url>/connect/token with client_id and
// client_secret in the form; the API at https://<Traversal-Url>/api/v1/CLIENT_ID/traversal.
test('healthhero: URLs from presetOptions, form client_secret_post', (t: TestContext) => {
  const result = presetDefaults('healthhero', { identityUrl: 'https://identity.acme.example/', apiUrl: 'https://traversal.acme.example' }, NO_EXPLICIT)
  t.assert.deepStrictEqual(result.issues, [])
  t.assert.deepStrictEqual(result.defaults, {
    target: 'https://traversal.acme.example',
    auth: {
      type: 'oauth2_client_credentials',
      tokenUrl: 'https://identity.acme.example/connect/token',
      clientAuth: 'client_secret_post',
      bodyEncoding: 'form'
    }
  })
  t.assert.deepStrictEqual(result.requiredHeaders, [])
  t.assert.strictEqual(presetSource('healthhero').guide, 'docs/vendors/healthhero.md')
})

// The page writes https://<paste_Identity_Url_here>/connect/token: a bare host means https://host.
test('healthhero: a bare host in presetOptions means https, a path is kept', (t: TestContext) => {
  const result = presetDefaults('healthhero', { identityUrl: 'identity.acme.example/tenant-1', apiUrl: 'traversal.acme.example' }, NO_EXPLICIT)
  t.assert.deepStrictEqual(result.issues, [])
  t.assert.strictEqual(result.defaults.auth.tokenUrl, 'https://identity.acme.example/tenant-1/connect/token')
  t.assert.strictEqual(result.defaults.target, 'https://traversal.acme.example')
})

test('healthhero: missing presetOptions are named, with what to put there', (t: TestContext) => {
  const result = presetDefaults('healthhero', undefined, NO_EXPLICIT)
  t.assert.deepStrictEqual(result.issues, [
    { path: 'presetOptions.apiUrl', message: 'required by preset healthhero (the API (Traversal) URL HealthHero gave you, as in {apiUrl}/api/v1/CLIENT_ID/traversal)' },
    { path: 'presetOptions.identityUrl', message: 'required by preset healthhero (the Identity URL HealthHero gave you; the token endpoint is {identityUrl}/connect/token)' }
  ])
  t.assert.strictEqual(result.defaults.target, undefined)
  t.assert.strictEqual(result.defaults.auth.tokenUrl, undefined)
})

test('healthhero: explicit target and tokenUrl make presetOptions unnecessary; one of them needs only the other option', (t: TestContext) => {
  const both = presetDefaults('healthhero', undefined, { target: 'https://api.example', tokenUrl: 'https://id.example/connect/token' })
  t.assert.deepStrictEqual(both.issues, [])
  t.assert.strictEqual(both.defaults.target, undefined)
  t.assert.strictEqual(both.defaults.auth.tokenUrl, undefined)
  t.assert.strictEqual(both.defaults.auth.bodyEncoding, 'form')

  const targetOnly = presetDefaults('healthhero', undefined, { target: 'https://api.example' })
  t.assert.deepStrictEqual(targetOnly.issues.map((issue) => issue.path), ['presetOptions.identityUrl'])
})

test('healthhero: a malformed URL option is refused with its path', (t: TestContext) => {
  const result = presetDefaults('healthhero', { identityUrl: 'ftp://identity.example', apiUrl: 'https://api.example/?tenant=1' }, NO_EXPLICIT)
  t.assert.deepStrictEqual(result.issues.map((issue) => issue.path), ['presetOptions.identityUrl', 'presetOptions.apiUrl'])
  t.assert.match(result.issues[0]?.message ?? '', /^must be an http\(s\) URL/)
})

// shared/vendors/redox.txt: signed assertion to https://api.redoxengine.com/v2/auth/token, validated with
// the client's public key; form body and RS384 from peers-and-pitfalls §8; a Canada URL exists.
test('redox: private_key_jwt, form, RS384 on api.redoxengine.com', (t: TestContext) => {
  const result = presetDefaults('redox', undefined, NO_EXPLICIT)
  t.assert.deepStrictEqual(result.issues, [])
  t.assert.deepStrictEqual(result.defaults, {
    target: 'https://api.redoxengine.com',
    auth: {
      type: 'oauth2_client_credentials',
      tokenUrl: 'https://api.redoxengine.com/v2/auth/token',
      clientAuth: 'private_key_jwt',
      bodyEncoding: 'form',
      signingAlg: 'RS384'
    }
  })
  t.assert.strictEqual(presetSource('redox').guide, 'docs/vendors/redox.md')
})

test('redox: presetOptions.region ca selects the Canada host; anything else is refused', (t: TestContext) => {
  const ca = presetDefaults('redox', { region: 'ca' }, NO_EXPLICIT)
  t.assert.deepStrictEqual(ca.issues, [])
  t.assert.strictEqual(ca.defaults.target, 'https://api.ca.redoxengine.com')
  t.assert.strictEqual(ca.defaults.auth.tokenUrl, 'https://api.ca.redoxengine.com/v2/auth/token')

  const bad = presetDefaults('redox', { region: 'eu' }, NO_EXPLICIT)
  t.assert.deepStrictEqual(bad.issues, [{ path: 'presetOptions.region', message: 'must be one of us | ca: us (api.redoxengine.com, the default) or ca (api.ca.redoxengine.com)' }])
  t.assert.strictEqual(bad.defaults.target, undefined)
})

// shared/vendors/photon.txt: POST JSON {client_id, client_secret, audience, grant_type} to
// https://auth.photon.health/oauth/token with audience https://api.photon.health.
test('photon: JSON client_secret_post with the production audience', (t: TestContext) => {
  const result = presetDefaults('photon', undefined, NO_EXPLICIT)
  t.assert.deepStrictEqual(result.issues, [])
  t.assert.deepStrictEqual(result.defaults, {
    target: 'https://api.photon.health',
    auth: {
      type: 'oauth2_client_credentials',
      tokenUrl: 'https://auth.photon.health/oauth/token',
      clientAuth: 'client_secret_post',
      bodyEncoding: 'json',
      audience: 'https://api.photon.health'
    }
  })
  t.assert.strictEqual(presetSource('photon').guide, 'docs/vendors/photon.md')
})

// shared/vendors/photon.txt: the sandbox is auth.neutron.health with audience https://api.neutron.health.
test('photon-sandbox: the neutron hosts and audience', (t: TestContext) => {
  const result = presetDefaults('photon-sandbox', undefined, NO_EXPLICIT)
  t.assert.deepStrictEqual(result.issues, [])
  t.assert.strictEqual(result.defaults.target, 'https://api.neutron.health')
  t.assert.strictEqual(result.defaults.auth.tokenUrl, 'https://auth.neutron.health/oauth/token')
  t.assert.strictEqual(result.defaults.auth.audience, 'https://api.neutron.health')
  t.assert.strictEqual(result.defaults.auth.bodyEncoding, 'json')
})

// shared/vendors/nikohealth.txt: POST form (grant_type only) with HTTP Basic to
// https://{yourDomain}.nikohealth.com/api/identity/connect/token; API at .../api/external/v1/patients.
test('nikohealth: the customer domain, form client_secret_basic', (t: TestContext) => {
  const result = presetDefaults('nikohealth', { domain: 'acme' }, NO_EXPLICIT)
  t.assert.deepStrictEqual(result.issues, [])
  t.assert.deepStrictEqual(result.defaults, {
    target: 'https://acme.nikohealth.com/api',
    auth: {
      type: 'oauth2_client_credentials',
      tokenUrl: 'https://acme.nikohealth.com/api/identity/connect/token',
      clientAuth: 'client_secret_basic',
      bodyEncoding: 'form'
    }
  })
  t.assert.strictEqual(presetSource('nikohealth').guide, 'docs/vendors/nikohealth.md')
})

test('nikohealth: a missing domain is one clear issue', (t: TestContext) => {
  const result = presetDefaults('nikohealth', undefined, NO_EXPLICIT)
  t.assert.deepStrictEqual(result.issues, [{
    path: 'presetOptions.domain',
    message: 'required by preset nikohealth (your NikoHealth domain, as in https://{domain}.nikohealth.com)'
  }])
})

test('nikohealth: explicit target and tokenUrl make the domain unnecessary', (t: TestContext) => {
  const result = presetDefaults('nikohealth', undefined, { target: 'http://127.0.0.1:4010/nikohealth/api', tokenUrl: 'http://127.0.0.1:4010/nikohealth/api/identity/connect/token' })
  t.assert.deepStrictEqual(result.issues, [])
  t.assert.strictEqual(result.defaults.auth.clientAuth, 'client_secret_basic')
})

test('nikohealth: a domain that would change the host is refused', (t: TestContext) => {
  for (const domain of ['evil.example/x', 'acme.evil', 'a@b', '-acme', 'acme:443', '']) {
    const result = presetDefaults('nikohealth', { domain }, NO_EXPLICIT)
    t.assert.strictEqual(result.issues[0]?.path, 'presetOptions.domain', domain)
    t.assert.strictEqual(result.defaults.target, undefined, domain)
  }
})

test('unknown presetOptions are issues, for presets with and without options', (t: TestContext) => {
  t.assert.deepStrictEqual(presetDefaults('nikohealth', { domain: 'acme', domian: 'acme' }, NO_EXPLICIT).issues, [
    { path: 'presetOptions.domian', message: 'unknown option for preset nikohealth; did you mean domain? (known: domain)' }
  ])
  t.assert.deepStrictEqual(presetDefaults('halaxy', { region: 'eu' }, NO_EXPLICIT).issues, [
    { path: 'presetOptions.region', message: 'unknown option: preset halaxy takes no presetOptions' }
  ])
})

test('only Halaxy documents a rate limit, so only its preset sets one', (t: TestContext) => {
  const limited = PRESET_NAMES.filter((name) => presetDefaults(name, options(name), NO_EXPLICIT).defaults.rateLimit !== undefined)
  t.assert.deepStrictEqual(limited, ['halaxy', 'halaxy-eu'])
})

test('defaults are fresh objects: changing one does not change the preset', (t: TestContext) => {
  const first = presetDefaults('halaxy', undefined, NO_EXPLICIT)
  ;(first.defaults.headers as Record<string, string>).Accept = 'text/plain'
  t.assert.strictEqual(presetDefaults('halaxy', undefined, NO_EXPLICIT).defaults.headers?.Accept, 'application/fhir+json')
})

test('every preset\'s defaults, with credentials added, are a valid upstream', (t: TestContext) => {
  for (const name of PRESET_NAMES) {
    const { defaults } = presetDefaults(name, options(name), NO_EXPLICIT)
    const upstream = {
      ...defaults,
      headers: { ...defaults.headers, 'User-Agent': 'Acme Clinic Sync (dev@acme.example)' },
      auth: { ...defaults.auth, clientId: 'id', ...(name === 'redox' ? { privateKey: 'PEM', keyId: 'kid' } : { clientSecret: 'secret' }) }
    }
    const parsed = upstreamSchema.safeParse(upstream)
    t.assert.ok(parsed.success, `${name}: ${JSON.stringify(parsed.error?.issues)}`)
  }
})

test('through the merge, a missing Halaxy User-Agent is named with its format, and the config wins', (t: TestContext) => {
  const issues: Array<{ path: string, message: string }> = []
  const merged = applyPreset({ preset: 'halaxy', headers: { accept: 'application/json' }, auth: { clientId: 'a', clientSecret: 'b' } }, 'upstreams.halaxy', issues)
  t.assert.deepStrictEqual(issues, [{
    path: 'upstreams.halaxy.headers.User-Agent',
    message: 'required by preset halaxy: "APP_VENDOR_NAME (APP_VENDOR_EMAIL)", e.g. "Acme Clinic Sync (dev@acme.example)"'
  }])
  t.assert.deepStrictEqual(merged.headers, { accept: 'application/json' })
  t.assert.strictEqual((merged.auth as Record<string, unknown>).maxTokenTtl, '15m')
})

function options (name: PresetName): Record<string, unknown> | undefined {
  if (name === 'nikohealth') return { domain: 'acme' }
  if (name === 'healthhero') return { identityUrl: 'https://id.example', apiUrl: 'https://api.example' }
  return undefined
}
