/**
 * Issue 19, part 10: the alert rules in deploy/prometheus/ are valid
 * (`promtool check rules`, lint fatal), their unit tests pass (`promtool test
 * rules`), every alert has a firing and a quiet case there, and every query
 * of the Grafana dashboard is valid PromQL. promtool comes with Debian's
 * prometheus package (.ci/run installs it); without it these tests skip,
 * except under CI=true, where they fail.
 */
import { spawnSync } from 'node:child_process'
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { parse, stringify } from 'yaml'

const DIR = 'deploy/prometheus'
const RULES = `${DIR}/tollgate-alerts.yaml`
const TESTS = `${DIR}/tollgate-alerts.test.yaml`
const DASHBOARD = 'deploy/grafana/tollgate-dashboard.json'

interface RuleTest { readonly alertname: string, readonly eval_time: string, readonly exp_alerts?: readonly unknown[] }

/** The promtool binary ($PROMTOOL, else on PATH), or a skip; under CI=true its absence is a failure. */
function promtool (t: TestContext): string | undefined {
  for (const candidate of [process.env.PROMTOOL, 'promtool']) {
    if (candidate !== undefined && spawnSync(candidate, ['--version']).status === 0) return candidate
  }
  if (process.env.CI === 'true') throw new Error('promtool not found, and CI=true: the alert rules must be checked (apt-get install prometheus)')
  t.skip('promtool not found ($PROMTOOL or PATH): install it (apt-get install prometheus) to check the alert rules')
  return undefined
}

function run (binary: string, args: readonly string[], cwd?: string): { status: number | null, output: string } {
  const result = spawnSync(binary, args, { encoding: 'utf8', ...(cwd === undefined ? {} : { cwd }) })
  return { status: result.status, output: `${result.stdout}${result.stderr}` }
}

function alertNames (): string[] {
  const rules = parse(readFileSync(RULES, 'utf8')) as { groups: Array<{ rules: Array<{ alert?: string }> }> }
  return rules.groups.flatMap((group) => group.rules.flatMap((rule) => rule.alert === undefined ? [] : [rule.alert]))
}

function ruleTests (text: string): RuleTest[] {
  const file = parse(text) as { tests: Array<{ alert_rule_test?: RuleTest[] }> }
  return file.tests.flatMap((group) => group.alert_rule_test ?? [])
}

/** What the promtool tests lack: an alert without a firing case or without a quiet one, or a case for an alert that does not exist. */
function missingCases (alerts: readonly string[], cases: readonly RuleTest[]): string[] {
  const missing: string[] = []
  for (const alert of alerts) {
    const mine = cases.filter((c) => c.alertname === alert)
    if (!mine.some((c) => (c.exp_alerts ?? []).length > 0)) missing.push(`${alert}: no firing case`)
    if (!mine.some((c) => (c.exp_alerts ?? []).length === 0)) missing.push(`${alert}: no quiet case`)
  }
  // A misspelt alertname expecting nothing passes in promtool whatever the rules do.
  for (const c of cases) if (!alerts.includes(c.alertname)) missing.push(`${c.alertname}: tested but not an alert in ${RULES}`)
  return missing
}

test('every alert has a firing case and a quiet case in the promtool tests, and every case names a real alert', (t: TestContext) => {
  t.plan(3)
  const alerts = alertNames()
  t.assert.ok(alerts.length >= 10, `${alerts.length} alerts read`)
  t.assert.deepStrictEqual(missingCases(alerts, ruleTests(readFileSync(TESTS, 'utf8'))), [])
  // The check itself finds each kind of gap.
  t.assert.deepStrictEqual(missingCases(['A', 'B'], [
    { alertname: 'A', eval_time: '5m', exp_alerts: [{}] },
    { alertname: 'B', eval_time: '5m' },
    { alertname: 'C', eval_time: '5m', exp_alerts: [] }
  ]), ['A: no quiet case', 'B: no firing case', `C: tested but not an alert in ${RULES}`])
})

test('promtool check rules: the alert rules are valid, lint errors included', (t: TestContext) => {
  const binary = promtool(t)
  if (binary === undefined) return
  t.plan(1)
  const result = run(binary, ['check', 'rules', '--lint=all', '--lint-fatal', RULES])
  t.assert.strictEqual(result.status, 0, result.output)
})

test('promtool test rules: every firing and quiet case passes', (t: TestContext) => {
  const binary = promtool(t)
  if (binary === undefined) return
  t.plan(1)
  // promtool reads rule_files relative to the test file's folder.
  const result = run(binary, ['test', 'rules', TESTS])
  t.assert.strictEqual(result.status, 0, result.output)
})

test('promtool test rules fails on a wrong expectation: the run above can fail', (t: TestContext) => {
  const binary = promtool(t)
  if (binary === undefined) return
  t.plan(2)
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-rules-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  copyFileSync(RULES, join(dir, 'tollgate-alerts.yaml'))
  // The quiet memory case, expected to fire.
  const wrong = readFileSync(TESTS, 'utf8').replace(
    '- { eval_time: 25m, alertname: TollgateMemoryHigh, exp_alerts: [] }',
    '- { eval_time: 25m, alertname: TollgateMemoryHigh, exp_alerts: [{ exp_labels: { severity: warning, pod: a } }] }')
  t.assert.notStrictEqual(wrong, readFileSync(TESTS, 'utf8'), 'the quiet memory case is where this test expects it')
  writeFileSync(join(dir, 'tollgate-alerts.test.yaml'), wrong)
  const result = run(binary, ['test', 'rules', 'tollgate-alerts.test.yaml'], dir)
  t.assert.ok(result.status !== 0 && result.output.includes('TollgateMemoryHigh'), result.output)
})

test('every query of the Grafana dashboard is valid PromQL (promtool check rules on them as recording rules)', (t: TestContext) => {
  const binary = promtool(t)
  if (binary === undefined) return
  t.plan(2)
  // Grafana's variables, as Grafana would fill them in.
  const VALUES: Record<string, string> = { __rate_interval: '1m', __interval: '1m', __range: '1h', upstream: '.*' }
  const queries: string[] = []
  const walk = (panels: ReadonlyArray<{ targets?: Array<{ expr: string }>, panels?: unknown[] }>): void => {
    for (const panel of panels) {
      for (const target of panel.targets ?? []) queries.push(target.expr)
      walk((panel.panels ?? []) as typeof panels)
    }
  }
  walk((JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { panels: Array<{ targets?: Array<{ expr: string }> }> }).panels)
  t.assert.ok(queries.length >= 30, `${queries.length} queries read`)
  const rules = queries.map((expr, i) => ({
    record: `dashboard:query_${i}`,
    expr: expr.replace(/\$\{?(\w+)\}?/g, (_, name: string) => {
      const value = VALUES[name]
      if (value === undefined) throw new Error(`dashboard variable $${name} has no test value here`)
      return value
    })
  }))
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-dashboard-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  writeFileSync(join(dir, 'dashboard-queries.yaml'), stringify({ groups: [{ name: 'dashboard', rules }] }))
  const result = run(binary, ['check', 'rules', join(dir, 'dashboard-queries.yaml')])
  t.assert.strictEqual(result.status, 0, result.output)
})
