/**
 * Config-file-shaped upstreams, one per preset, pointed at a running
 * sandbox with its credentials: what the demo runs, and what docs/sandbox.md
 * shows users for their CI. Each keeps its preset, so client auth, body
 * encoding, audience, headers and rate limit are the vendor's; only the URLs
 * and credentials are the sandbox's.
 */
import { PRESET_NAMES, type PresetName } from '../config/presets.js'
import { sandboxEndpoints } from './layout.js'
import type { SandboxCredentials } from './options.js'

/** Halaxy's page asks for `User-Agent: APP_VENDOR_NAME (APP_VENDOR_EMAIL)`; the demo names itself. */
export const DEMO_USER_AGENT = 'tollgate demo (demo@tollgate.invalid)'

/**
 * `upstreams` entries keyed by preset name (so each is served under
 * `/<preset name>`). Redox is left out when the sandbox has no private key
 * to hand (its clients were configured by the caller).
 */
export function sandboxUpstreams (sandbox: { readonly url: string, readonly credentials: SandboxCredentials }): Partial<Record<PresetName, Record<string, unknown>>> {
  const endpoints = sandboxEndpoints(sandbox.url)
  const upstreams: Partial<Record<PresetName, Record<string, unknown>>> = {}
  for (const preset of PRESET_NAMES) {
    const { target, tokenUrl } = endpoints[preset]
    let auth: Record<string, unknown>
    if (preset === 'redox') {
      const redox = sandbox.credentials.redox
      if (redox === undefined) continue
      auth = { tokenUrl, clientId: redox.clientId, privateKey: redox.privateKey, keyId: redox.keyId, signingAlg: redox.signingAlg }
    } else {
      const client = sandbox.credentials[preset]
      auth = { tokenUrl, clientId: client.clientId, clientSecret: client.clientSecret }
    }
    upstreams[preset] = {
      preset,
      target,
      ...(preset === 'halaxy' || preset === 'halaxy-eu' ? { headers: { 'User-Agent': DEMO_USER_AGENT } } : {}),
      auth
    }
  }
  return upstreams
}
