/** The command line of `npm run bench`, checked, with the defaults of a full and a quick run. */
import { parseArgs } from 'node:util'
import { SCENARIOS, type LoadKind, type Scenario, type Settings } from './setup.js'

export const HELP = `npm run bench -- [options]
  --quick                 smallest run that still covers every target; its verdicts mean nothing
  --scenarios=LIST        of ${SCENARIOS.join(',')} (default: all; empty: none)
                          limiter-redis needs redis-server (about 2 min; starts its own on loopback)
                          fhir: rewriteLinks fhir against none, paired, and a 200 MB Bundle (about 1.5 min)
                          footprint: tollgate as the image runs it vs the bare proxy, idle and at 1,000 req/s
                          (about 100 s per round; installs the image's Node: scripts/install-node.mjs)
  --connections=LIST      default 1,10,100 (quick: 10,100)
  --loads=LIST            get,post (quick: get)
  --rounds=N              default 3 (quick: 1)
  --duration=S            seconds per measured run, default 3 (quick: 0.3, and no warm-up)
  --profile               also CPU-profile the bare proxy and tollgate, GET small at 100 conns (node --cpu-prof)
  --profile-seconds=S     default 10 (quick: 1)
  --profile-rounds=N      profile each target N times, alternating; medians per area (default 1)
  --candidate=DIR         also benchmark DIR/src (a patched copy of the repository) beside tollgate
  --candidate-flags=FLAGS node flags for the candidate only (with no --candidate: this tree's src/)
  --candidate-env=K=V,... environment for the candidate only, e.g. MALLOC_TRIM_THRESHOLD_=131072 (read by
                          the C library before node starts, so --env-file cannot set it)
  --no-pin                leave CPU placement to the scheduler (default: the measured process gets a CPU of its own)
  --log-file=FILE         tollgate logs there instead of /dev/null
  --json=FILE             also write every measurement as JSON
`

export interface Command extends Settings {
  readonly candidateDir: string | undefined
  readonly candidateFlags: readonly string[]
  readonly candidateEnv: Readonly<Record<string, string>>
  readonly json: string | undefined
  /** Give the measured process a CPU of its own (cpu-placement.ts). */
  readonly pin: boolean
  readonly help: boolean
}

function list (value: string | undefined, fallback: readonly string[]): string[] {
  return value === undefined ? [...fallback] : value.split(',').map((v) => v.trim()).filter((v) => v !== '')
}

function bounded (name: string, value: number, lowest: number, highest: number): number {
  if (!(value >= lowest && value <= highest)) throw new Error(`--${name}: from ${lowest} to ${highest}`)
  return value
}

export function parseCommand (argv: readonly string[]): Command {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      quick: { type: 'boolean', default: false },
      scenarios: { type: 'string' },
      connections: { type: 'string' },
      loads: { type: 'string' },
      rounds: { type: 'string' },
      duration: { type: 'string' },
      profile: { type: 'boolean', default: false },
      'profile-seconds': { type: 'string' },
      'profile-rounds': { type: 'string' },
      candidate: { type: 'string' },
      'candidate-flags': { type: 'string' },
      'candidate-env': { type: 'string' },
      'no-pin': { type: 'boolean', default: false },
      'log-file': { type: 'string' },
      json: { type: 'string' },
      help: { type: 'boolean', default: false }
    }
  })
  const quick = values.quick === true
  const scenarios = list(values.scenarios, SCENARIOS)
  for (const s of scenarios) if (!(SCENARIOS as readonly string[]).includes(s)) throw new Error(`unknown scenario ${s} (${SCENARIOS.join(', ')})`)
  const loads = list(values.loads, quick ? ['get'] : ['get', 'post'])
  for (const l of loads) if (l !== 'get' && l !== 'post') throw new Error(`unknown load ${l} (get, post)`)
  const connections = list(values.connections, quick ? ['10', '100'] : ['1', '10', '100']).map((c) => bounded('connections', Number(c), 1, 1000))
  return {
    quick,
    durationS: bounded('duration', Number(values.duration ?? (quick ? 0.3 : 3)), 0.1, 60),
    warmupS: quick ? 0 : 1,
    rounds: bounded('rounds', Number(values.rounds ?? (quick ? 1 : 3)), 1, 20),
    connections,
    loads: loads as LoadKind[],
    scenarios: new Set(scenarios as Scenario[]),
    profile: values.profile === true,
    profileS: bounded('profile-seconds', Number(values['profile-seconds'] ?? (quick ? 1 : 10)), 0.5, 120),
    profileRounds: bounded('profile-rounds', Number(values['profile-rounds'] ?? 1), 1, 10),
    logTo: values['log-file'] ?? '/dev/null',
    pin: values['no-pin'] !== true,
    candidateDir: values.candidate,
    candidateFlags: values['candidate-flags']?.split(/\s+/).filter((f) => f !== '') ?? [],
    candidateEnv: environment(values['candidate-env']),
    json: values.json,
    help: values.help === true
  }
}

/** `K=V,K2=V2` → { K: 'V', K2: 'V2' }. */
function environment (spec: string | undefined): Record<string, string> {
  const env: Record<string, string> = {}
  for (const pair of (spec ?? '').split(',').filter((p) => p !== '')) {
    const at = pair.indexOf('=')
    if (at < 1) throw new Error(`--candidate-env: NAME=VALUE, not ${pair}`)
    env[pair.slice(0, at)] = pair.slice(at + 1)
  }
  return env
}
