/**
 * `npx tollgate` with no config: the sandbox vendors and the sidecar with
 * every preset pointed at them, on loopback, and the curl lines to try.
 * Needs no network and no secrets: the sandbox makes its own credentials,
 * a Redox key pair included.
 */
import type { AddressInfo } from 'node:net'
import { formatIssues } from '../config/issues.js'
import { resolveConfig } from '../config/load.js'
import type { PresetName } from '../config/presets.js'
import { buildServer, listen, type ServerDeps, type Sidecar } from '../server.js'
import { sandboxUpstreams } from './sandbox-upstreams.js'
import { startSandbox, type RunningSandbox } from './server.js'

export const DEMO_PORT = 8080

/** One request per vendor that answers 200 through the sidecar (the vendor's own resource paths). */
function demoPaths (sandbox: RunningSandbox): Record<PresetName, string> {
  return {
    halaxy: '/halaxy/Patient',
    'halaxy-eu': '/halaxy-eu/Patient/sandbox-patient-1',
    healthhero: `/healthhero/api/v1/${sandbox.credentials.healthhero.clientId}/traversal`,
    redox: '/redox/fhir/R4/Patient?family=Smith',
    photon: '/photon/patients',
    'photon-sandbox': '/photon-sandbox/patients',
    nikohealth: '/nikohealth/external/v1/patients'
  }
}

export interface RunningDemo {
  readonly url: string
  readonly sandbox: RunningSandbox
  readonly sidecar: Sidecar
  /** Paths on the sidecar, one per vendor. */
  readonly paths: readonly string[]
  close (): Promise<void>
}

export async function startDemo (options: { port?: number, deps?: ServerDeps } = {}): Promise<RunningDemo> {
  const sandbox = await startSandbox()
  const result = resolveConfig({ server: { port: options.port ?? DEMO_PORT }, upstreams: sandboxUpstreams(sandbox) })
  if (result.issues !== undefined) {
    await sandbox.close()
    throw new Error(`demo config invalid (a bug):\n${formatIssues(result.issues)}`)
  }
  const sidecar = await buildServer(result.config, options.deps)
  try {
    await listen(sidecar)
  } catch (err) {
    await sandbox.close()
    throw err
  }
  const { port } = sidecar.app.server.address() as AddressInfo
  const configured = new Set(result.config.upstreams.map((upstream) => upstream.name))
  const paths = Object.entries(demoPaths(sandbox)).filter(([name]) => configured.has(name)).map(([, path]) => path)
  return {
    url: `http://127.0.0.1:${port}`,
    sandbox,
    sidecar,
    paths,
    close: async () => {
      await sidecar.app.close()
      await sandbox.close()
    }
  }
}

/** The demo's own warning, logged on stdout (JSON) as well as said on stderr: a log collector sees it too. */
export const DEMO_WARNING = 'demo mode: fake vendors and credentials on loopback, not a configured sidecar; run with --config FILE for real upstreams'

/** What the demo tells the person who started it (stderr): where things are and the curl lines to try. */
export function demoIntro (demo: RunningDemo): string {
  return [
    '',
    'tollgate demo: the sidecar in front of the sandbox vendors (docs/sandbox.md), all on loopback.',
    `sandbox vendors: ${demo.sandbox.url}    sidecar: ${demo.url}`,
    'Your app sends plain requests; tollgate fetches each vendor\'s token in its dialect and injects it. Try:',
    '',
    ...demo.paths.map((path) => `  curl -i '${demo.url}${path}'`),
    '',
    `  curl ${demo.url}/status        # tokens and limiters (never a token)`,
    '',
    'Ctrl-C stops it. Your own config: npx --no -- tollgate --config tollgate.yaml (README.md, docs/cli.md).',
    '',
    ''
  ].join('\n')
}
