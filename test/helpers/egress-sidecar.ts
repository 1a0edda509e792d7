/**
 * The sidecar as test/helpers/sidecar.ts builds it, plus the environment its
 * dispatchers read HTTPS_PROXY / HTTP_PROXY / NO_PROXY from: tests pass one
 * instead of touching process.env.
 */
import type { AddressInfo } from 'node:net'
import type { TestContext } from 'node:test'
import { formatIssues } from '../../src/config/issues.js'
import { resolveConfig } from '../../src/config/load.js'
import { buildServer, type Sidecar } from '../../src/server.js'
import { logSink, type LogSink } from './log-sink.js'

export interface EgressSidecar {
  readonly url: string
  readonly sidecar: Sidecar
  readonly logs: LogSink
}

/** `env` is both the config's interpolation environment and the proxy environment (as in production). */
export async function startEgressSidecar (t: TestContext, raw: Record<string, unknown>, env: NodeJS.ProcessEnv = {}): Promise<EgressSidecar> {
  const result = resolveConfig({ ...raw, log: { level: 'trace' } }, { env })
  if (result.issues !== undefined) throw new Error(`test config invalid:\n${formatIssues(result.issues)}`)
  const logs = logSink()
  const sidecar = await buildServer(result.config, { logStream: logs.stream, env })
  await sidecar.app.listen({ host: '127.0.0.1', port: 0 })
  t.after(() => sidecar.app.close())
  return { url: `http://127.0.0.1:${(sidecar.app.server.address() as AddressInfo).port}`, sidecar, logs }
}

/** The problem+json answer's fields the egress tests look at. */
export interface Problem {
  readonly status: number
  readonly code: string
  readonly detail: string
  readonly upstream?: string
}
