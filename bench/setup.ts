/**
 * What every scenario shares: the settings from the command line, the built
 * trees, the upstream process, and how to start a tollgate process with a
 * config that differs from the throughput one only where the scenario says.
 */
import type { BuiltTree } from './build.js'
import { startChild, type Child } from './proc.js'

export const SCENARIOS = ['throughput', 'refresh', 'stampede', 'limiter', 'limiter-redis', 'queue', 'fhir', 'footprint'] as const
export type Scenario = typeof SCENARIOS[number]
export type LoadKind = 'get' | 'post'

export interface Settings {
  readonly quick: boolean
  readonly durationS: number
  readonly warmupS: number
  readonly rounds: number
  readonly connections: readonly number[]
  readonly loads: readonly LoadKind[]
  readonly scenarios: ReadonlySet<Scenario>
  readonly profile: boolean
  readonly profileS: number
  readonly profileRounds: number
  /** Where tollgate's log lines go: /dev/null unless --log-file. */
  readonly logTo: string
}

export interface UpstreamInfo {
  readonly origin: string
  readonly tokenUrl: string
}

export interface Bench {
  readonly settings: Settings
  readonly main: BuiltTree
  /** Another checkout's src/, or other node flags, benchmarked side by side (--candidate, --candidate-flags). */
  readonly candidate: Candidate | undefined
  readonly upstream: Child<UpstreamInfo>
}

export interface Candidate {
  readonly tree: BuiltTree
  readonly execArgv: readonly string[]
  /** Added to its environment (--candidate-env). */
  readonly env: Readonly<Record<string, string>>
}

export const PREFIX = '/bench'
export const POST_BYTES = 64 * 1024

/**
 * The sidecar as the throughput scenario runs it: OAuth2 client credentials and a limit it never reaches.
 * `change.upstream` sets other keys of the upstream (the fhir scenario: another `target`, `rewriteLinks`).
 */
export function tollgateConfig (upstream: UpstreamInfo, change: { auth?: Record<string, unknown>, rateLimit?: Record<string, unknown>, upstream?: Record<string, unknown> } = {}): Record<string, unknown> {
  return {
    server: { host: '127.0.0.1', port: 0 },
    log: { level: 'info' },
    upstreams: {
      bench: {
        prefix: PREFIX,
        target: upstream.origin,
        auth: {
          type: 'oauth2_client_credentials',
          tokenUrl: upstream.tokenUrl,
          clientId: 'bench-client',
          clientSecret: 'bench-client-secret',
          ...change.auth
        },
        // 100k starts per second: never reached on this hardware, so no request waits.
        rateLimit: change.rateLimit ?? { requests: 100_000, window: '1s' },
        ...change.upstream
      }
    }
  }
}

export interface TollgateChild extends Child<{ url: string }> {}

export async function startTollgate (bench: Bench, config: Record<string, unknown>, options: { tree?: BuiltTree, execArgv?: readonly string[], env?: Readonly<Record<string, string>>, logTo?: string } = {}): Promise<TollgateChild> {
  return await startChild<{ url: string }>((options.tree ?? bench.main).outDir, 'tollgate', {
    arg: { config, logTo: options.logTo ?? bench.settings.logTo },
    execArgv: ['--expose-gc', ...(options.execArgv ?? [])],
    ...(options.env === undefined ? {} : { env: options.env }),
    role: 'measured'
  })
}

export interface TargetStatus {
  readonly limiter: { queued: number, running: number, counters: { started: number, waited: number, rejected: number } }
  readonly credentials: { fetches?: { ok: number, failed: number } }
}

export async function startCandidate (bench: Bench, candidate: Candidate, config: Record<string, unknown>, execArgv: readonly string[] = []): Promise<TollgateChild> {
  return await startTollgate(bench, config, { tree: candidate.tree, execArgv: [...candidate.execArgv, ...execArgv], env: candidate.env })
}
