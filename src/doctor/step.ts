/**
 * One line of `tollgate doctor`: an upstream, a step, how it went, and what
 * was seen. Details are built from our own words plus short, sanitised
 * values quoted from the far side (a host name, a status, an RFC 6749
 * `error` code); every one is passed through the run's redactor, so neither
 * a configured secret nor a fetched token can reach the output.
 */

/** In the order they run for one upstream. */
export type StepName = 'dns' | 'tcp' | 'proxy' | 'tls' | 'token' | 'clock' | 'probe'

/** `warn` passes (exit 0); `fail` fails the run; `skip`: not run, because a step it needs failed or it is not configured. */
export type StepStatus = 'ok' | 'warn' | 'fail' | 'skip'

export interface StepResult {
  readonly upstream: string
  readonly step: StepName
  readonly status: StepStatus
  readonly detail: string
}

/** What a check hands back before the run names the upstream and redacts it. */
export interface StepOutcome {
  readonly status: StepStatus
  readonly detail: string
}

export const ok = (detail: string): StepOutcome => ({ status: 'ok', detail })
export const warn = (detail: string): StepOutcome => ({ status: 'warn', detail })
export const fail = (detail: string): StepOutcome => ({ status: 'fail', detail })
export const skip = (detail: string): StepOutcome => ({ status: 'skip', detail })

/** FAIL in capitals: it is what a reader scans for. */
const LABELS: Readonly<Record<StepStatus, string>> = { ok: 'ok', warn: 'warn', fail: 'FAIL', skip: 'skip' }

/** `halaxy  dns    ok    au-api.halaxy.com → 1.2.3.4 (4 ms)`, the upstream name padded to `nameWidth`. */
export function formatStep (result: StepResult, nameWidth: number): string {
  return `${result.upstream.padEnd(nameWidth)}  ${result.step.padEnd(5)}  ${LABELS[result.status].padEnd(4)}  ${result.detail}`
}

/** `3 upstreams: 14 ok, 1 warning, 1 failed, 2 skipped`. */
export function summarize (results: readonly StepResult[], upstreams: number): string {
  const count = (status: StepStatus): number => results.filter((result) => result.status === status).length
  const plural = (n: number, word: string, words = `${word}s`): string => `${n} ${n === 1 ? word : words}`
  const parts = [`${count('ok')} ok`]
  if (count('warn') > 0) parts.push(plural(count('warn'), 'warning'))
  if (count('fail') > 0) parts.push(`${count('fail')} failed`)
  if (count('skip') > 0) parts.push(`${count('skip')} skipped`)
  return `${plural(upstreams, 'upstream')}: ${parts.join(', ')}`
}

/**
 * Text from the far side (an `error_description`, a certificate subject, a
 * JWT claim) made fit for one line: control characters and line breaks
 * become spaces, runs of spaces one, and it is cut at `max` characters.
 */
export function printable (value: string, max = 120): string {
  // eslint-disable-next-line no-control-regex
  const flat = value.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g, ' ').replace(/\s+/g, ' ').trim()
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat
}

/**
 * Replaces every occurrence of any of `secrets` with `[redacted]`, longest
 * first, so a secret that contains another is replaced whole. Values under 4
 * characters are left alone (the config's own secret list does the same):
 * they would blank out ordinary words.
 */
export function createRedactor (secrets: Iterable<string>): { add (secret: string): void, redact (text: string): string } {
  const known = new Set<string>()
  let ordered: string[] = []
  const add = (secret: string): void => {
    if (secret.length < 4 || known.has(secret)) return
    known.add(secret)
    ordered = [...known].sort((a, b) => b.length - a.length)
  }
  for (const secret of secrets) add(secret)
  return {
    add,
    redact: (text) => ordered.reduce((out, secret) => out.split(secret).join('[redacted]'), text)
  }
}
