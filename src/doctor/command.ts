/**
 * `tollgate doctor [--config FILE] [UPSTREAM]`, as src/cli.ts calls it:
 * loads the config, picks the upstream, runs the doctor with its lines on
 * stdout, and returns the exit code (cli.ts alone exits): 0 every step
 * passed (warnings allowed), 1 a step failed or the config is invalid,
 * 2 a usage error (no config, an unknown upstream, more than one name).
 */
import { formatIssues } from '../config/issues.js'
import { loadConfigFile } from '../config/load.js'
import { runDoctor } from './run.js'

export const DOCTOR_USAGE = 'tollgate doctor [--config FILE] [UPSTREAM]'

export interface DoctorCommand {
  /** --config, else TOLLGATE_CONFIG. */
  readonly configFile: string | undefined
  /** The positionals after `doctor`: none, or one upstream name. */
  readonly names: readonly string[]
  readonly stdout: (text: string) => void
  readonly stderr: (text: string) => void
  readonly env?: NodeJS.ProcessEnv
}

export async function doctorCommand (command: DoctorCommand): Promise<number> {
  const { configFile, names, stdout, stderr } = command
  if (configFile === undefined) {
    stderr(`doctor needs --config FILE (or TOLLGATE_CONFIG)\nUsage: ${DOCTOR_USAGE}\n`)
    return 2
  }
  if (names.length > 1) {
    stderr(`doctor takes one upstream name at most, not ${names.length}\nUsage: ${DOCTOR_USAGE}\n`)
    return 2
  }
  const env = command.env ?? process.env
  const loaded = loadConfigFile(configFile, env)
  if (loaded.issues !== undefined) {
    stderr(`${configFile}: invalid config\n${formatIssues(loaded.issues)}\n`)
    return 1
  }
  const name = names[0]
  const known = loaded.config.upstreams.map((u) => u.name)
  if (name !== undefined && !known.includes(name)) {
    stderr(`doctor: no upstream named ${JSON.stringify(name)} in ${configFile} (it has ${known.join(', ')})\n`)
    return 2
  }
  const report = await runDoctor(loaded.config, {
    env,
    ...(name === undefined ? {} : { upstream: name }),
    write: (line) => { stdout(`${line}\n`) }
  })
  return report.failed ? 1 : 0
}
