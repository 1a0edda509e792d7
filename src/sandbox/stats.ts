/**
 * Per-vendor counters, so tests against the sandbox can assert what the
 * vendor saw ("exactly one token request", "no request reached the API").
 * Read with `sandbox.stats()` or `GET /_sandbox/stats`.
 */
import { PRESET_NAMES, type PresetName } from '../config/presets.js'

export interface VendorStats {
  /** Every request to the token endpoint, whatever its outcome. */
  tokenRequests: number
  /** Token requests answered 200 with a token. */
  tokensIssued: number
  /** Token requests refused with an OAuth error. */
  tokenErrors: number
  /** Every request to a resource endpoint, whatever its outcome. */
  resourceRequests: number
  /** Resource requests answered 401 (no, unknown, expired or revoked token). */
  resourceUnauthorized: number
  /** Resource requests answered 429 by the rate limiter (Halaxy). */
  rateLimited: number
}

export type SandboxStats = { readonly [V in PresetName]: Readonly<VendorStats> }

export class StatsBoard {
  readonly #vendors = new Map<PresetName, VendorStats>()

  constructor () {
    this.reset()
  }

  /** The live counters of one vendor, for its routes to increment. */
  of (vendor: PresetName): VendorStats {
    const stats = this.#vendors.get(vendor)
    if (stats === undefined) throw new TypeError(`"${vendor}" is not a sandbox vendor`)
    return stats
  }

  snapshot (): SandboxStats {
    const copy = {} as Record<PresetName, VendorStats>
    for (const [vendor, stats] of this.#vendors) copy[vendor] = { ...stats }
    return copy
  }

  /** Zeroes the counters in place: routes keep their references. */
  reset (): void {
    for (const vendor of PRESET_NAMES) {
      const stats = this.#vendors.get(vendor)
      const zero = { tokenRequests: 0, tokensIssued: 0, tokenErrors: 0, resourceRequests: 0, resourceUnauthorized: 0, rateLimited: 0 }
      if (stats === undefined) this.#vendors.set(vendor, zero)
      else Object.assign(stats, zero)
    }
  }
}
