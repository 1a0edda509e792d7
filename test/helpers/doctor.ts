/**
 * Runs `tollgate doctor` in-process on a config-file-shaped config, and
 * checks what it printed for anything that looks like a leaked credential
 * (the patterns scripts/test.mjs scans the whole test run with) or for the
 * given secret values.
 */
import type { TestContext } from 'node:test'
import { formatIssues } from '../../src/config/issues.js'
import { resolveConfig } from '../../src/config/load.js'
import { runDoctor, type DoctorOptions, type DoctorReport } from '../../src/doctor/run.js'
import type { StepName, StepResult } from '../../src/doctor/step.js'
// @ts-expect-error: a plain .mjs module shared with scripts/test.mjs, without types
import { LEAKS } from '../../scripts/secret-patterns.mjs'

export async function doctor (raw: Record<string, unknown>, options: DoctorOptions = {}): Promise<DoctorReport> {
  const result = resolveConfig(raw, { env: {} })
  if (result.issues !== undefined) throw new Error(`test config invalid:\n${formatIssues(result.issues)}`)
  return await runDoctor(result.config, { env: {}, ...options })
}

/** The one step of `upstream` named `step`; fails the test when there is not exactly one. */
export function stepOf (report: DoctorReport, upstream: string, step: StepName): StepResult {
  const found = report.steps.filter((s) => s.upstream === upstream && s.step === step)
  if (found.length !== 1) throw new Error(`expected one ${upstream} ${step} step, found ${found.length}:\n${report.lines.join('\n')}`)
  return found[0] as StepResult
}

/** `step status` for each step of `upstream`, in order: the shape of a run at a glance. */
export function statuses (report: DoctorReport, upstream: string): string[] {
  return report.steps.filter((s) => s.upstream === upstream).map((s) => `${s.step} ${s.status}`)
}

/** No secret pattern and none of `secrets` anywhere in `text`. */
export function assertNoLeaks (t: TestContext, text: string, secrets: readonly string[] = []): void {
  for (const [kind, pattern] of LEAKS as Array<[string, RegExp]>) t.assert.ok(!pattern.test(text), `the doctor's output holds a ${kind}`)
  for (const secret of secrets) t.assert.ok(!text.includes(secret), 'the doctor\'s output holds a secret value')
}
