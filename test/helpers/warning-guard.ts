/**
 * Loaded into every test process (scripts/test.mjs, `--import`): a process
 * warning fails the test file it was raised in, unless it is on the
 * allow-list. A MaxListenersExceededWarning is how a listener leak shows
 * (issue 14), and a warning from tollgate's own code is a bug. Each entry
 * names the package, the warning and why it is there.
 */
interface Allowed {
  readonly package: string
  readonly name: string
  readonly message: RegExp
  readonly why: string
}

const ALLOWED: readonly Allowed[] = [
  {
    package: 'node (node:test)',
    name: 'ExperimentalWarning',
    message: /^The MockTimers API is an experimental feature/,
    why: 'node core marks t.mock.timers experimental on the Node lines tollgate supports; the timing tests drive the clock with it'
  }
]

process.on('warning', (warning) => {
  if (ALLOWED.some((a) => a.name === warning.name && a.message.test(warning.message))) return
  process.exitCode = 1
  process.stderr.write(`warning-guard: a warning not on the allow-list (test/helpers/warning-guard.ts) fails this file:\n${warning.stack ?? `${warning.name}: ${warning.message}`}\n`)
})
