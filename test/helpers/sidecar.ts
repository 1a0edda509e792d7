/**
 * The real sidecar from a raw (config-file-shaped) config, on 127.0.0.1:0,
 * logging at trace into a sink so tests can prove no secret is written.
 */
import type { AddressInfo } from 'node:net'
import type { TestContext } from 'node:test'
import { formatIssues } from '../../src/config/issues.js'
import { resolveConfig } from '../../src/config/load.js'
import { buildServer, type Sidecar } from '../../src/server.js'
import { logSink, type LogSink } from './log-sink.js'

export interface RunningSidecar {
  readonly url: string
  readonly sidecar: Sidecar
  readonly logs: LogSink
  close (): Promise<void>
}

export async function startSidecar (t: TestContext | undefined, raw: Record<string, unknown>, env: NodeJS.ProcessEnv = {}): Promise<RunningSidecar> {
  const withLog = { ...raw, log: { level: 'trace', ...(raw.log as object | undefined) } }
  const result = resolveConfig(withLog, { env })
  if (result.issues !== undefined) throw new Error(`test config invalid:\n${formatIssues(result.issues)}`)
  const logs = logSink()
  const sidecar = await buildServer(result.config, { logStream: logs.stream })
  await sidecar.app.listen({ host: '127.0.0.1', port: 0 })
  const close = async (): Promise<void> => { await sidecar.app.close() }
  t?.after(close)
  return { url: `http://127.0.0.1:${(sidecar.app.server.address() as AddressInfo).port}`, sidecar, logs, close }
}
