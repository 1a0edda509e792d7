/**
 * The real sidecar from a raw (config-file-shaped) config, on 127.0.0.1:0,
 * logging at trace into a sink so tests can prove no secret is written.
 */
import type { AddressInfo } from 'node:net'
import type { TestContext } from 'node:test'
import { formatIssues } from '../../src/config/issues.js'
import { resolveConfig } from '../../src/config/load.js'
import { buildServer, listen, type Sidecar } from '../../src/server.js'
import { logSink, type LogSink } from './log-sink.js'

export interface RunningSidecar {
  readonly url: string
  /** Set when the config has server.adminPort (tests give it port 0 like the main one). */
  readonly adminUrl: string | undefined
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
  // Port 0 unless the test chose one: every test gets its own free port.
  if (raw.server === undefined || (raw.server as { port?: unknown }).port === undefined) {
    await sidecar.app.listen({ host: '127.0.0.1', port: 0 })
    if (sidecar.admin !== undefined) await sidecar.admin.listen({ host: '127.0.0.1', port: 0 })
  } else {
    await listen(sidecar)
  }
  const close = async (): Promise<void> => { await sidecar.app.close() }
  t?.after(close)
  const adminUrl = sidecar.admin === undefined ? undefined : `http://127.0.0.1:${(sidecar.admin.server.address() as AddressInfo).port}`
  return { url: `http://127.0.0.1:${(sidecar.app.server.address() as AddressInfo).port}`, adminUrl, sidecar, logs, close }
}
