/**
 * Reloads in tests: a raw (config-file-shaped) config resolved as
 * startSidecar resolves it (log at trace unless the config says), handed to
 * the running sidecar; and the /status and /metrics readings that say what
 * a reload did.
 */
import type { TestContext } from 'node:test'
import { formatIssues } from '../../src/config/issues.js'
import { loadConfigFile, resolveConfig, type LoadResult } from '../../src/config/load.js'
import { buildServer, type ReloadOptions, type ReloadReport, type Sidecar } from '../../src/server.js'
import { logSink, type LogSink } from './log-sink.js'
import { parsePrometheus, valueOf } from './prometheus.js'

export interface FileSidecar {
  readonly sidecar: Sidecar
  readonly url: string
  /** The file as loaded: its config, its `${...}` values and the `${file:}` files it names (a reloader watches them). */
  readonly loaded: Extract<LoadResult, { issues?: undefined }>
  readonly logs: LogSink
}

/** A sidecar built from a config file as the CLI builds it, on an ephemeral loopback port, closed after the test. */
export async function listenFromFile (t: TestContext, file: string): Promise<FileSidecar> {
  const loaded = loadConfigFile(file)
  if (loaded.issues !== undefined) throw new Error(`fixture invalid:\n${formatIssues(loaded.issues)}`)
  const logs = logSink()
  const sidecar = await buildServer(loaded.config, { logStream: logs.stream, interpolated: loaded.interpolated })
  await sidecar.app.listen({ host: '127.0.0.1', port: 0 })
  t.after(() => sidecar.app.close())
  return { sidecar, url: `http://127.0.0.1:${(sidecar.app.server.address() as { port: number }).port}`, loaded, logs }
}

export async function reloadTo (sidecar: Sidecar, raw: Record<string, unknown>, env: NodeJS.ProcessEnv = {}, options: ReloadOptions = {}): Promise<ReloadReport> {
  const result = resolveConfig({ ...raw, log: { level: 'trace', ...(raw.log as object | undefined) } }, { env })
  if (result.issues !== undefined) throw new Error(`test config invalid:\n${formatIssues(result.issues)}`)
  return await sidecar.reload(result.config, { interpolated: result.interpolated, ...options })
}

export interface ConfigReadings {
  readonly generation: number
  readonly sha256: string
  readonly lastReload: { at: string, result: string, problems: Array<{ path: string, message: string }>, restartNeeded: string[], overridden: string[] } | null
  /** tollgate_config_reloads_total by result, and tollgate_config_generation. */
  readonly reloads: { applied: number, partial: number, rejected: number }
  readonly generationMetric: number | undefined
}

/** /status.config and the two reload metrics, read from `url` (the app-facing or the admin listener). */
export async function configReadings (url: string): Promise<ConfigReadings> {
  const status = await (await fetch(`${url}/status`)).json() as { config: Omit<ConfigReadings, 'reloads' | 'generationMetric'> }
  // Only the config families: the rest of the scrape is other tests' business.
  const text = await (await fetch(`${url}/metrics`)).text()
  const samples = parsePrometheus(text.split('\n').filter((line) => line.startsWith('tollgate_config_')).join('\n'))
  const count = (result: string): number => valueOf(samples, 'tollgate_config_reloads_total', { result }) ?? Number.NaN
  return {
    ...status.config,
    reloads: { applied: count('applied'), partial: count('partial'), rejected: count('rejected') },
    generationMetric: valueOf(samples, 'tollgate_config_generation')
  }
}
