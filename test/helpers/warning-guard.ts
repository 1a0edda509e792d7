/**
 * Loaded into every test process (scripts/test.mjs, `--import`; the CLI
 * children of test/helpers/cli-process.ts too): a process warning fails the
 * test file it was raised in (the process exits 1, which node:test reports
 * as that file failing), whatever the tests themselves said.
 *
 * - A MaxListenersExceededWarning always fails: it is how a listener leak
 *   shows (issue 14: "11 close listeners added to [Socket]"). It can never
 *   be allowed.
 * - A warning raised from tollgate's own code (a frame of its stack in src/,
 *   bench/ or scripts/) always fails: it is a bug, allow-list or not.
 * - Any other warning fails unless it is on ALLOWED. An entry names the
 *   package that raises the warning, its name and code (null: the package
 *   gives it none), the message, and the upstream issue whose resolution
 *   lets the entry go.
 */
import { fileURLToPath, pathToFileURL } from 'node:url'

interface Allowed {
  /** Who raises it. */
  readonly package: string
  /** warning.name */
  readonly name: string
  /** warning.code; null when the package gives this warning no code. */
  readonly code: string | null
  readonly message: RegExp
  /** Where upstream says it goes away. */
  readonly issue: string
  readonly why: string
}

const ALLOWED: readonly Allowed[] = [
  {
    package: 'node (node:test)',
    name: 'ExperimentalWarning',
    code: null,
    message: /^The MockTimers API is an experimental feature/,
    issue: 'https://github.com/nodejs/node/pull/55398',
    why: 'the timing tests drive the clock with t.mock.timers, which node marked stable in nodejs/node#55398; the Node 20 line tollgate supports still calls it experimental'
  }
]

/** Never allowed, whoever raises it. */
const NEVER = new Set(['MaxListenersExceededWarning'])

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
/** tollgate's own code, as stack frames spell it (a path, or a file: URL under tsx). */
const OWN_CODE = ['src/', 'bench/', 'scripts/'].flatMap((dir) => [`${ROOT}${dir}`, `${pathToFileURL(ROOT).href}${dir}`])

/** The first frame of the stack in tollgate's own code, if any. */
export function ownFrame (stack: string | undefined): string | undefined {
  return stack?.split('\n').slice(1).find((line) => OWN_CODE.some((dir) => line.includes(dir)))?.trim()
}

/** Why this warning fails the file, or undefined when it is allowed. */
export function verdict (warning: Error & { code?: unknown }): string | undefined {
  if (NEVER.has(warning.name)) return `a ${warning.name} is never allowed: something adds listeners without removing them`
  const frame = ownFrame(warning.stack)
  if (frame !== undefined) return `a warning raised from tollgate's own code (${frame}) is a bug, allow-list or not`
  const code = typeof warning.code === 'string' ? warning.code : null
  if (ALLOWED.some((a) => a.name === warning.name && a.code === code && a.message.test(warning.message))) return undefined
  return 'a warning not on the allow-list (test/helpers/warning-guard.ts)'
}

let failed = false

process.on('warning', (warning) => {
  const why = verdict(warning)
  if (why === undefined) return
  failed = true
  process.exitCode = 1
  process.stderr.write(`warning-guard: ${why} fails this file:\n${warning.stack ?? `${warning.name}: ${warning.message}`}\n`)
})

// Whatever set the exit code since (a test, the code under test), the warning still fails the file.
process.on('exit', () => {
  if (failed) process.exitCode = 1
})
