/**
 * Secret rotation without a restart. `${file:...}` secrets (a Kubernetes
 * Secret volume, a Vault agent's files) are polled; when one changes, the
 * config is read again and every upstream whose `auth` changed gets a new
 * credential source. Its fingerprint differs, so the next request fetches a
 * token with the new secret, and the old token is forgotten rather than
 * served on. Anything else that changed (routes, limits, headers) needs a
 * restart: it is reported, not applied.
 */
import type { CredentialSource } from '../auth/source.js'
import { formatIssues } from '../config/issues.js'
import { loadConfigFile } from '../config/load.js'
import type { AuthConfig, Config, UpstreamConfig } from '../config/types.js'
import type { UpstreamRuntime } from '../proxy/runtime.js'
import { watchFiles, type FileWatch } from './file-watch.js'

/** How often secret files are checked, by default. */
export const DEFAULT_SECRET_POLL_MS = 5_000

export interface RotationOutcome {
  /** Upstreams whose credentials were replaced. */
  readonly rotated: readonly string[]
  /** What changed but needs a restart to take effect. */
  readonly restartNeeded: readonly string[]
}

interface Rotatable {
  readonly config: Config
  readonly upstreams: readonly UpstreamRuntime[]
  readonly logger: { info (obj: object, msg: string): void, warn (obj: object, msg: string): void }
  rotate (next: Config): RotationOutcome
}

/**
 * Swap the credential sources whose auth differs from the one in use.
 * `appliedAuth` remembers what each upstream runs with after earlier
 * rotations (runtime.config keeps the startup config, which routing uses).
 */
export function rotateCredentials (current: Config, next: Config, upstreams: readonly UpstreamRuntime[], make: (upstream: UpstreamConfig) => CredentialSource, appliedAuth: Map<string, AuthConfig>): RotationOutcome {
  const rotated: string[] = []
  const restartNeeded: string[] = []
  const nextByName = new Map(next.upstreams.map((upstream) => [upstream.name, upstream]))
  for (const runtime of upstreams) {
    const updated = nextByName.get(runtime.config.name)
    if (updated === undefined) {
      restartNeeded.push(`upstreams.${runtime.config.name} (removed)`)
      continue
    }
    if (describe({ ...updated, auth: undefined }) !== describe({ ...runtime.config, auth: undefined })) restartNeeded.push(`upstreams.${updated.name}`)
    if (describe(updated.auth) === describe(appliedAuth.get(updated.name) ?? runtime.config.auth)) continue
    const old = runtime.credentials
    runtime.credentials = make(updated)
    appliedAuth.set(updated.name, updated.auth)
    // The old secret is gone: its token must not be served again.
    old.close({ forget: true })
    rotated.push(updated.name)
  }
  for (const name of nextByName.keys()) if (!upstreams.some((runtime) => runtime.config.name === name)) restartNeeded.push(`upstreams.${name} (added)`)
  for (const section of ['server', 'store', 'log'] as const) {
    if (describe(next[section]) !== describe(current[section])) restartNeeded.push(section)
  }
  return { rotated, restartNeeded }
}

/** Poll the config's secret files; on a change, re-read the config and rotate. */
export function startSecretRotation (sidecar: Rotatable, configFile: string, files: readonly string[], intervalMs = DEFAULT_SECRET_POLL_MS): FileWatch {
  return watchFiles(files, intervalMs, (changed) => {
    const result = loadConfigFile(configFile)
    if (result.issues !== undefined) {
      // Messages name fields, never values (config/validate.ts).
      sidecar.logger.warn({ changed, problems: formatIssues(result.issues).split('\n') }, 'secret files changed but the config no longer validates; keeping the running credentials')
      return
    }
    const outcome = sidecar.rotate(result.config)
    sidecar.logger.info({ changed, rotated: outcome.rotated }, 'secret files changed: credentials rotated')
    if (outcome.restartNeeded.length > 0) sidecar.logger.warn({ restartNeeded: outcome.restartNeeded }, 'config changed beyond secrets: restart to apply')
  })
}

/** A stable text form for comparison (Sets as sorted arrays). Compared in memory, never logged. */
function describe (value: unknown): string {
  return JSON.stringify(value, (_key, item: unknown) => item instanceof Set ? [...(item as Set<unknown>)].map(String).sort() : item)
}
