/**
 * Runs the CLI from source (`node --import tsx src/cli.ts`) so no build is
 * needed, capturing stdout and stderr and the exit code.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import type { TestContext } from 'node:test'

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url))

export interface CliRun {
  readonly child: ChildProcess
  stdout (): string
  stderr (): string
  /** Resolves with the exit code (null when killed by a signal) and the time of exit (performance.now()). */
  readonly exited: Promise<{ code: number | null, signal: NodeJS.Signals | null, at: number }>
  /** Resolves with the first stdout match of `pattern`, or rejects if the process exits first. */
  waitForStdout (pattern: RegExp): Promise<RegExpExecArray>
}

export function startCli (t: TestContext, args: string[], env: NodeJS.ProcessEnv = {}): CliRun {
  // The warning guard too: a warning the CLI raises fails its test (NODE_NO_WARNINGS only keeps node from printing it).
  // TOLLGATE_* and NODE_ENV from the test's own environment are left out (spawn drops undefined values): each test says what it sets.
  const child = spawn(process.execPath, ['--import', 'tsx', '--import', './test/helpers/warning-guard.ts', 'src/cli.ts', ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, TOLLGATE_CONFIG: undefined, TOLLGATE_LOG_LEVEL: undefined, TOLLGATE_LOG_FORMAT: undefined, NODE_ENV: undefined, NODE_NO_WARNINGS: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let out = ''
  let err = ''
  child.stdout?.on('data', (chunk: Buffer) => { out += chunk.toString() })
  child.stderr?.on('data', (chunk: Buffer) => { err += chunk.toString() })
  const exited = new Promise<{ code: number | null, signal: NodeJS.Signals | null, at: number }>((resolve) => {
    child.on('exit', (code, signal) => resolve({ code, signal, at: performance.now() }))
  })
  t.after(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL') })
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    waitForStdout (pattern) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          const match = pattern.exec(out)
          if (match !== null) {
            child.stdout?.off('data', check)
            resolve(match)
          }
        }
        child.stdout?.on('data', check)
        exited.then(() => reject(new Error(`exited before printing ${String(pattern)}; stderr: ${err}`)))
        check()
      })
    }
  }
}

/** Runs the CLI to completion. */
export async function runCli (t: TestContext, args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null, stdout: string, stderr: string }> {
  const run = startCli(t, args, env)
  const { code } = await run.exited
  return { code, stdout: run.stdout(), stderr: run.stderr() }
}
