/**
 * tollgate in its own process, built as the CLI builds it (resolveConfig +
 * buildServer), with the real logger: pino at the configured level through
 * an asynchronous destination, as in production, only to /dev/null (or a
 * file) instead of stdout. It reports the limiter's and the token cache's
 * status and its own memory over IPC.
 *
 * Tracing is on when this process has the standard OTEL_* variables, applied
 * as the CLI applies them: `--candidate-flags=--env-file=FILE` turns it on
 * for the candidate alone (docs/benchmarks.md, *Tracing*). No other variable
 * of the bench's environment reaches the config.
 */
import type { AddressInfo } from 'node:net'
import pino, { type DestinationStream } from 'pino'
import * as overrides from '../src/cli/config-source.js'
import { formatIssues } from '../src/config/issues.js'
import { resolveConfig } from '../src/config/load.js'
import * as logging from '../src/logger.js'
import { buildServer } from '../src/server.js'
import { announce, childArgument, serveParent } from './child-ipc.js'

const { config: raw, logTo } = childArgument<{ config: Record<string, unknown>, logTo: string }>()

const result = resolveConfig(raw, { env: {} })
if (result.issues !== undefined) throw new Error(`bench config invalid:\n${formatIssues(result.issues)}`)
// The production destination (batched writes), only to /dev/null or a file instead of stdout.
// A candidate tree from before logDestination existed gets the destination it used then.
const logStream = 'logDestination' in logging
  ? (logging.logDestination as (dest: string) => DestinationStream)(logTo)
  : pino.destination({ dest: logTo, sync: false })
const otel = Object.fromEntries(Object.entries(process.env).filter(([name]) => name.startsWith('OTEL_')))
// A tree from before the OTEL_* variables were read ignores them: it has no tracing to turn on.
const config = Object.keys(otel).length === 0 ? result.config : overrides.applyOverrides(result.config, {}, otel).config
const sidecar = await buildServer(config, { logStream })
await sidecar.app.listen({ host: '127.0.0.1', port: 0 })

const runtime = sidecar.upstreams[0]
if (runtime === undefined) throw new Error('bench config has no upstream')

serveParent({
  /** User + system CPU µs so far (all threads of the process). */
  cpu: () => { const { user, system } = process.cpuUsage(); return user + system },
  // The store's status where the tree has one (is shared state in use; how many outages so far).
  status: () => ({ limiter: runtime.limiter.status(), credentials: runtime.credentials.status(), ...('store' in sidecar ? { store: sidecar.store.status() } : {}) }),
  mem: ({ gc }) => {
    if (gc === true) {
      // Twice: the first pass can leave garbage that only a second collects (weak refs, finalizers).
      globalThis.gc?.()
      globalThis.gc?.()
    }
    return process.memoryUsage()
  }
}, async () => { await sidecar.app.close() })

announce({ url: `http://127.0.0.1:${(sidecar.app.server.address() as AddressInfo).port}` })
