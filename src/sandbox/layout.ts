/**
 * Where each vendor lives in the sandbox. One loopback server cannot have a
 * host per vendor, so each is mounted under `/<preset name>` and keeps the
 * vendor's own paths below that: `/halaxy/main/oauth/token` is Halaxy's
 * `https://au-api.halaxy.com/main/oauth/token`.
 */
import { PRESET_NAMES, type PresetName } from '../config/presets.js'

/** Paths below the vendor's prefix, as in its documentation. */
export interface VendorLayout {
  /** Base of the resource API: what a preset's `target` is. */
  readonly target: string
  readonly tokenPath: string
}

export const VENDOR_LAYOUTS: Readonly<Record<PresetName, VendorLayout>> = {
  // Halaxy's page: https://au-api.halaxy.com/main/oauth/token, https://au-api.halaxy.com/main/Patient
  halaxy: { target: '/main', tokenPath: '/main/oauth/token' },
  'halaxy-eu': { target: '/main', tokenPath: '/main/oauth/token' },
  // HealthHero's page: https://<Identity_Url>/connect/token, https://<Traversal-Url>/api/v1/CLIENT_ID/traversal;
  // the two customer hosts become /identity and the vendor root.
  healthhero: { target: '', tokenPath: '/identity/connect/token' },
  // Redox's page: https://api.redoxengine.com/v2/auth/token; the FHIR API is below /fhir/R4.
  redox: { target: '', tokenPath: '/v2/auth/token' },
  // Photon's page: https://auth.photon.health/oauth/token and the API host https://api.photon.health,
  // which become /oauth/token and /api.
  photon: { target: '/api', tokenPath: '/oauth/token' },
  'photon-sandbox': { target: '/api', tokenPath: '/oauth/token' },
  // NikoHealth's page: https://{domain}.nikohealth.com/api/identity/connect/token, .../api/external/v1/patients
  nikohealth: { target: '/api', tokenPath: '/api/identity/connect/token' }
}

export interface SandboxEndpoints {
  /** For the upstream's `target`. */
  readonly target: string
  /** For `auth.tokenUrl`. */
  readonly tokenUrl: string
}

/**
 * Each preset's `target` and `auth.tokenUrl` in a sandbox at `baseUrl`
 * (e.g. `http://127.0.0.1:4010`). Setting both explicitly points a preset at
 * the sandbox and, for NikoHealth and HealthHero, makes `presetOptions`
 * unnecessary; everything else (client auth, encoding, audience, headers,
 * rate limit) still comes from the preset.
 */
export function sandboxEndpoints (baseUrl: string): Record<PresetName, SandboxEndpoints> {
  const base = baseUrl.replace(/\/+$/, '')
  const endpoints = {} as Record<PresetName, SandboxEndpoints>
  for (const vendor of PRESET_NAMES) {
    const layout = VENDOR_LAYOUTS[vendor]
    endpoints[vendor] = { target: `${base}/${vendor}${layout.target}`, tokenUrl: `${base}/${vendor}${layout.tokenPath}` }
  }
  return endpoints
}
