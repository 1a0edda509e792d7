/**
 * Vendor presets: the defaults a known vendor's public documentation gives,
 * as plain data. A preset only fills what the config file leaves out
 * (config/preset-merge.ts does the merging); every value below names the
 * vendor page it comes from; each vendor's guide (docs/vendors/<vendor>.md,
 * cited as `guide`) quotes the passages.
 *
 * Values are config-file-shaped (durations as '15m', rateLimit as
 * `{ requests, window }`), so they pass through the same schema as what a
 * user writes.
 */
import { closest } from './suggest.js'
import type { BodyEncoding, ClientAuthMethod, SigningAlg } from './types.js'

export const PRESET_NAMES = ['halaxy', 'halaxy-eu', 'healthhero', 'redox', 'photon', 'photon-sandbox', 'nikohealth'] as const
export type PresetName = typeof PRESET_NAMES[number]

export function isPresetName (value: unknown): value is PresetName {
  return typeof value === 'string' && (PRESET_NAMES as readonly string[]).includes(value)
}

export interface PresetSource {
  /** The vendor's public page. */
  readonly doc: string
  /** The vendor's guide in this repository, which quotes the page. */
  readonly guide: string
}

export interface RawAuthDefaults {
  readonly type: 'oauth2_client_credentials'
  readonly tokenUrl?: string
  readonly clientAuth: ClientAuthMethod
  readonly bodyEncoding: BodyEncoding
  readonly audience?: string
  readonly signingAlg?: SigningAlg
  readonly maxTokenTtl?: string
}

/** What a preset contributes to one upstream, shaped like the config file. */
export interface RawUpstreamDefaults {
  readonly target?: string
  readonly headers?: Readonly<Record<string, string>>
  readonly auth: RawAuthDefaults
  readonly rateLimit?: { readonly requests: number, readonly window: string }
  readonly rewriteLinks?: 'fhir' | 'none'
}

/** A header only the user can fill in (it names them), so the config must set it. */
export interface RequiredHeader {
  readonly name: string
  /** The vendor's format and an example, shown when the header is missing. */
  readonly hint: string
}

/**
 * An `auth` key only the user can fill in (it names their registration with
 * the vendor), so the config must set it whenever `auth.clientAuth` is `with`.
 */
export interface RequiredAuthKey {
  readonly key: 'keyId'
  readonly with: ClientAuthMethod
  /** What the value is and how to get one, shown when it is missing. */
  readonly hint: string
}

/** Paths are relative to the upstream, e.g. `presetOptions.domain`. */
export interface PresetIssue {
  readonly path: string
  readonly message: string
}

export interface PresetResult {
  readonly defaults: RawUpstreamDefaults
  readonly requiredHeaders: readonly RequiredHeader[]
  readonly requiredAuth: readonly RequiredAuthKey[]
  readonly issues: readonly PresetIssue[]
}

/**
 * A `presetOptions` entry. URL templates below refer to it as `{name}`.
 * - `label`: one DNS label (a customer subdomain).
 * - `url`: an absolute http(s) URL, or a bare host that means https://host.
 * - `choice`: one of the keys of `choices`; the template gets the mapped value.
 */
type OptionSpec =
  | { readonly kind: 'label', readonly hint: string }
  | { readonly kind: 'url', readonly hint: string }
  | { readonly kind: 'choice', readonly hint: string, readonly choices: Readonly<Record<string, string>>, readonly default: string }

interface PresetDefinition {
  readonly source: PresetSource
  /** Absolute URL, or a template over `options`. */
  readonly target: string
  readonly tokenUrl: string
  readonly auth: Omit<RawAuthDefaults, 'type' | 'tokenUrl'>
  readonly headers?: Readonly<Record<string, string>>
  readonly requiredHeaders?: readonly RequiredHeader[]
  readonly requiredAuth?: readonly RequiredAuthKey[]
  readonly rateLimit?: { readonly requests: number, readonly window: string }
  readonly options?: Readonly<Record<string, OptionSpec>>
  /** `fhir` where the whole target speaks FHIR JSON, so its answers' links lead back through tollgate. */
  readonly rewriteLinks?: 'fhir' | 'none'
}

const HALAXY: PresetSource = {
  doc: 'https://developers.halaxy.com/docs/authentication',
  guide: 'docs/vendors/halaxy.md'
}
const HEALTHHERO: PresetSource = {
  doc: 'https://traversal-documentation.healthherotechnologies.co.uk/docs/client-authentication',
  guide: 'docs/vendors/healthhero.md'
}
const REDOX: PresetSource = {
  doc: 'https://developer.redoxengine.com/api-reference/fhir-api-reference/authenticate-an-oauth-api-key',
  guide: 'docs/vendors/redox.md'
}
const PHOTON: PresetSource = {
  doc: 'https://docs.photon.health/docs/authentication',
  guide: 'docs/vendors/photon.md'
}
const NIKOHEALTH: PresetSource = {
  doc: 'http://help.nikohealth.com/en/articles/6794188-how-authorization-works',
  guide: 'docs/vendors/nikohealth.md'
}

/**
 * Halaxy's page, "Identify your application": `User-Agent: APP_VENDOR_NAME (APP_VENDOR_EMAIL)`.
 * Only the user knows their name and e-mail, so the preset requires it rather than inventing one.
 */
const HALAXY_USER_AGENT: RequiredHeader = {
  name: 'User-Agent',
  hint: '"APP_VENDOR_NAME (APP_VENDOR_EMAIL)", e.g. "Acme Clinic Sync (dev@acme.example)"'
}

function halaxy (host: string): PresetDefinition {
  return {
    source: HALAXY,
    // "Countries in the EU and UK must use https://eu-api.halaxy.com/main/,
    // while all other countries must use https://au-api.halaxy.com/main/."
    target: `https://${host}/main`,
    // "curl --location 'https://au-api.halaxy.com/main/oauth/token' ... --header 'Content-Type: application/json'
    // --data '{ "grant_type": ..., "client_id": ..., "client_secret": ... }'"
    tokenUrl: `https://${host}/main/oauth/token`,
    auth: {
      clientAuth: 'client_secret_post',
      bodyEncoding: 'json',
      // "Access tokens are valid for 15 minutes", while the example answer says
      // expires_in 3600: the clamp keeps tollgate safe under both readings.
      maxTokenTtl: '15m'
    },
    // Every example sends `Accept: application/fhir+json`. The examples' Content-Type
    // is left out on purpose: configured headers overwrite the app's, and a fixed
    // Content-Type would relabel whatever body the app sends.
    headers: { Accept: 'application/fhir+json' },
    requiredHeaders: [HALAXY_USER_AGENT],
    // "All requests authenticated with OAuth are rate-limited to 500 requests per
    // minute. The API uses a sliding window rate limiter."
    rateLimit: { requests: 500, window: '1m' },
    // Everything under /main is FHIR (issue 16): Bundle links and fullUrls name the vendor's base.
    rewriteLinks: 'fhir'
  }
}

function photon (apiHost: string, authHost: string): PresetDefinition {
  return {
    source: PHOTON,
    // The page names the API host (it is also the `audience`) but not the path of
    // the GraphQL endpoint, so the target is the host root and apps add the path.
    target: `https://${apiHost}`,
    // "curl https://auth.photon.health/oauth/token --header "content-type: application/json"
    // --data { client_id, client_secret, audience, grant_type }"; neutron for the sandbox.
    tokenUrl: `https://${authHost}/oauth/token`,
    auth: { clientAuth: 'client_secret_post', bodyEncoding: 'json', audience: `https://${apiHost}` }
  }
}

const PRESETS: Readonly<Record<PresetName, PresetDefinition>> = {
  halaxy: halaxy('au-api.halaxy.com'),
  'halaxy-eu': halaxy('eu-api.halaxy.com'),
  healthhero: {
    source: HEALTHHERO,
    // "curl --request GET --url https://<paste-Traversal-Url-here>/api/v1/CLIENT_ID/traversal":
    // the API URL is the customer's, and apps send the /api/v1/... path.
    target: '{apiUrl}',
    // "curl --request POST --url 'https://<paste_Identity_Url_here>/connect/token'
    // --header 'content-type: application/x-www-form-urlencoded' --data client_id=... --data client_secret=..."
    tokenUrl: '{identityUrl}/connect/token',
    auth: { clientAuth: 'client_secret_post', bodyEncoding: 'form' },
    options: {
      identityUrl: { kind: 'url', hint: 'the Identity URL HealthHero gave you; the token endpoint is {identityUrl}/connect/token' },
      apiUrl: { kind: 'url', hint: 'the API (Traversal) URL HealthHero gave you, as in {apiUrl}/api/v1/CLIENT_ID/traversal' }
    }
  },
  redox: {
    source: REDOX,
    // "Send an auth request with the signed assertion to https://api.redoxengine.com/v2/auth/token".
    // The page also names a Canada URL; peers-and-pitfalls §8 gives its host.
    target: 'https://{region}',
    tokenUrl: 'https://{region}/v2/auth/token',
    auth: {
      // "Redox validates the signature in the request using your public key": a signed
      // client assertion with a kid, sent as a form (peers-and-pitfalls §8).
      clientAuth: 'private_key_jwt',
      bodyEncoding: 'form',
      signingAlg: 'RS384'
    },
    // "kid required ... Redox reads iss as client_id then kid to pick the key" (peers-and-pitfalls
    // §8; Redox's page: "update the privateKeyPEM, clientId, and kid"): without a kid every token
    // request is refused with invalid_client.
    requiredAuth: [{
      key: 'keyId',
      with: 'private_key_jwt',
      hint: 'the kid of the public key registered with Redox (tollgate keygen --kid ID makes a key pair and prints its JWKS; register the JWKS with Redox, and set keyId to the same ID)'
    }],
    options: {
      region: {
        kind: 'choice',
        hint: 'us (api.redoxengine.com, the default) or ca (api.ca.redoxengine.com)',
        choices: { us: 'api.redoxengine.com', ca: 'api.ca.redoxengine.com' },
        default: 'us'
      }
    }
  },
  photon: photon('api.photon.health', 'auth.photon.health'),
  'photon-sandbox': photon('api.neutron.health', 'auth.neutron.health'),
  nikohealth: {
    source: NIKOHEALTH,
    // The page calls https://{yourDomain}.nikohealth.com/api/external/v1/patients and
    // https://{yourDomain}.nikohealth.com/api/identity/connect/token. The target stops at
    // /api so apps write the vendor's own paths after the prefix (/external/v1/patients).
    target: 'https://{domain}.nikohealth.com/api',
    tokenUrl: 'https://{domain}.nikohealth.com/api/identity/connect/token',
    // "--header 'Content-Type: application/x-www-form-urlencoded' --header 'Authorization:
    // Basic YOUR-ENCODED-CREDENTIALS' --data-urlencode 'grant_type=client_credentials'"
    auth: { clientAuth: 'client_secret_basic', bodyEncoding: 'form' },
    options: {
      domain: { kind: 'label', hint: 'your NikoHealth domain, as in https://{domain}.nikohealth.com' }
    }
  }
}

/** The vendor page a preset's values come from. */
export function presetSource (name: PresetName): PresetSource {
  return PRESETS[name].source
}

/**
 * The raw defaults preset `name` contributes to an upstream, the headers the
 * user must still set, and any problem with `presetOptions`. Options are
 * required only for the URLs that `explicit` does not already give: with both
 * `target` and `auth.tokenUrl` set, NikoHealth and HealthHero need none.
 */
export function presetDefaults (
  name: PresetName,
  presetOptions: Record<string, unknown> | undefined,
  explicit: { target?: unknown, tokenUrl?: unknown }
): PresetResult {
  const preset = PRESETS[name]
  const specs = preset.options ?? {}
  const issues: PresetIssue[] = []

  for (const key of Object.keys(presetOptions ?? {})) {
    if (Object.hasOwn(specs, key)) continue
    const known = Object.keys(specs)
    const guess = closest(key, known)
    issues.push({
      path: `presetOptions.${key}`,
      message: known.length === 0
        ? `unknown option: preset ${name} takes no presetOptions`
        : `unknown option for preset ${name}${guess === undefined ? '' : `; did you mean ${guess}?`} (known: ${known.join(', ')})`
    })
  }

  // Validate every option given, even one the explicit URLs make unnecessary:
  // a malformed value is a mistake either way.
  const values = new Map<string, string>()
  for (const [key, spec] of Object.entries(specs)) {
    const given = presetOptions?.[key]
    if (given === undefined) {
      if (spec.kind === 'choice') values.set(key, spec.choices[spec.default] ?? '')
      continue
    }
    const value = readOption(spec, given)
    if (value === undefined) issues.push({ path: `presetOptions.${key}`, message: `${describeKind(spec)}: ${spec.hint}` })
    else values.set(key, value)
  }

  const missing = new Set<string>()
  const expand = (template: string): string | undefined => {
    let complete = true
    const url = template.replace(/\{(\w+)\}/g, (_match, key: string) => {
      const value = values.get(key)
      if (value !== undefined) return value
      complete = false
      // Only report options that were not given at all; a malformed one is reported above.
      if (presetOptions?.[key] === undefined) missing.add(key)
      return ''
    })
    return complete ? url : undefined
  }

  const target = explicit.target === undefined ? expand(preset.target) : undefined
  const tokenUrl = explicit.tokenUrl === undefined ? expand(preset.tokenUrl) : undefined
  for (const key of missing) {
    issues.push({ path: `presetOptions.${key}`, message: `required by preset ${name} (${specs[key]?.hint ?? ''})` })
  }

  const defaults: RawUpstreamDefaults = {
    ...(target === undefined ? {} : { target }),
    ...(preset.headers === undefined ? {} : { headers: { ...preset.headers } }),
    auth: {
      type: 'oauth2_client_credentials',
      ...(tokenUrl === undefined ? {} : { tokenUrl }),
      ...preset.auth
    },
    ...(preset.rateLimit === undefined ? {} : { rateLimit: { ...preset.rateLimit } }),
    ...(preset.rewriteLinks === undefined ? {} : { rewriteLinks: preset.rewriteLinks })
  }
  return { defaults, requiredHeaders: preset.requiredHeaders ?? [], requiredAuth: preset.requiredAuth ?? [], issues }
}

function describeKind (spec: OptionSpec): string {
  switch (spec.kind) {
    case 'label': return 'must be a DNS label (letters, digits and inner hyphens)'
    case 'url': return 'must be an http(s) URL without credentials, query or fragment'
    case 'choice': return `must be one of ${Object.keys(spec.choices).join(' | ')}`
  }
}

// RFC 1035 §2.3.1 label, as the customer part of {domain}.nikohealth.com: it
// must not be able to change the host (no dots, slashes, `@` or ports).
const DNS_LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/

/** The option's value for URL templates, or undefined when it is malformed. */
function readOption (spec: OptionSpec, value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined
  switch (spec.kind) {
    case 'label':
      return DNS_LABEL.test(value) ? value.toLowerCase() : undefined
    case 'choice':
      return Object.hasOwn(spec.choices, value) ? spec.choices[value] : undefined
    case 'url':
      return readBaseUrl(value)
  }
}

/**
 * HealthHero's page writes its URLs as `https://<paste_Identity_Url_here>/...`,
 * so what customers are given may be a bare host: that means https://host.
 * The result has no trailing slash, ready for `{url}/connect/token`.
 */
function readBaseUrl (value: string): string | undefined {
  const text = value.includes('://') ? value : `https://${value}`
  let url: URL
  try {
    url = new URL(text)
  } catch {
    return undefined
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return undefined
  if (url.username !== '' || url.password !== '' || url.search !== '' || url.hash !== '' || text.includes('?') || text.includes('#')) return undefined
  return url.href.replace(/\/+$/, '')
}
