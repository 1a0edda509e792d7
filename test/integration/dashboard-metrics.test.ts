/**
 * Issue 19, part 9: the Grafana dashboard (deploy/grafana/), the alert rules
 * and their promtool unit tests (deploy/prometheus/) ask only for series a
 * running tollgate exports, with labels it puts on them. The sidecar is driven
 * until every metric has a sample: a token fetched, a vendor 429 pausing the
 * upstream, a 404 of its own, and its Redis store lost (the fallback share).
 */
import { readFileSync } from 'node:fs'
import { test, type TestContext } from 'node:test'
import { parse } from 'yaml'
import { startOrigin } from '../helpers/origin.js'
import { parsePrometheus } from '../helpers/prometheus.js'
import { selectors, type Selector } from '../helpers/promql.js'
import { startRedis, waitFor } from '../helpers/redis-server.js'
import { startSidecar } from '../helpers/sidecar.js'
import { startTokenEndpoint, tokenReply } from '../helpers/token-endpoint.js'

const DASHBOARD = 'deploy/grafana/tollgate-dashboard.json'
const ALERTS = 'deploy/prometheus/tollgate-alerts.yaml'
const ALERT_TESTS = 'deploy/prometheus/tollgate-alerts.test.yaml'
/** Labels Prometheus adds to every scraped series (the target's); input series of the promtool tests carry them. */
const TARGET_LABELS = new Set(['instance', 'job', 'pod', 'namespace'])

interface Use { readonly where: string, readonly selector: Selector }

interface Panel { readonly title?: string, readonly targets?: ReadonlyArray<{ readonly expr?: string }>, readonly panels?: readonly Panel[] }

function dashboardUses (): Use[] {
  const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { panels: Panel[], templating: { list: Array<{ name: string, type: string, query?: string }> } }
  const uses: Use[] = []
  const walk = (panels: readonly Panel[]): void => {
    for (const panel of panels) {
      for (const target of panel.targets ?? []) {
        if (target.expr === undefined) throw new Error(`${DASHBOARD}: panel "${panel.title}" has a target without expr`)
        for (const selector of selectors(target.expr)) uses.push({ where: `${DASHBOARD} panel "${panel.title}"`, selector })
      }
      walk(panel.panels ?? [])
    }
  }
  walk(dashboard.panels)
  for (const variable of dashboard.templating.list.filter((v) => v.type === 'query')) {
    // Grafana's label_values(selector, label): the label must be on the series too.
    const match = /^label_values\((.+),\s*(\w+)\)$/.exec(variable.query ?? '')
    if (match === null) throw new Error(`${DASHBOARD}: variable ${variable.name} is not label_values(metric, label): ${variable.query}`)
    for (const selector of selectors(match[1] as string)) {
      uses.push({ where: `${DASHBOARD} variable ${variable.name}`, selector: { name: selector.name, labels: [...selector.labels, match[2] as string] } })
    }
  }
  return uses
}

function alertUses (): Use[] {
  const rules = parse(readFileSync(ALERTS, 'utf8')) as { groups: Array<{ rules: Array<{ alert?: string, record?: string, expr: string }> }> }
  return rules.groups.flatMap((group) => group.rules.flatMap((rule) =>
    selectors(rule.expr).map((selector) => ({ where: `${ALERTS} ${rule.alert ?? rule.record}`, selector }))))
}

function alertTestUses (): Use[] {
  const file = parse(readFileSync(ALERT_TESTS, 'utf8')) as { tests: Array<{ input_series: Array<{ series: string }> }> }
  return file.tests.flatMap((group) => group.input_series.flatMap((input) =>
    selectors(input.series).map((selector) => ({
      where: `${ALERT_TESTS} input series ${input.series}`,
      selector: { name: selector.name, labels: selector.labels.filter((label) => !TARGET_LABELS.has(label)) }
    }))))
}

/** Series names a scrape exports (from its # TYPE lines: a histogram's _bucket, _sum, _count) and the labels seen on each. */
function exported (text: string): { names: Set<string>, labels: Map<string, Set<string>> } {
  const names = new Set<string>()
  for (const [, name, type] of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    if (type === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(`${name}${suffix}`)
    else if (type === 'summary') for (const suffix of ['', '_sum', '_count']) names.add(`${name}${suffix}`)
    else names.add(name as string)
  }
  const labels = new Map<string, Set<string>>()
  for (const sample of parsePrometheus(text)) {
    const seen = labels.get(sample.name) ?? new Set<string>()
    for (const label of Object.keys(sample.labels)) seen.add(label)
    labels.set(sample.name, seen)
  }
  return { names, labels }
}

/** What `uses` ask for that the scrape `text` does not have: a series name, or a label on it. */
function problemsWith (uses: readonly Use[], text: string): string[] {
  const { names, labels } = exported(text)
  const problems: string[] = []
  for (const { where, selector } of uses) {
    if (!names.has(selector.name)) {
      problems.push(`${where}: ${selector.name} is not exported by tollgate`)
      continue
    }
    const seen = labels.get(selector.name)
    if (seen === undefined) {
      problems.push(`${where}: ${selector.name} had no sample in the scrape, its labels cannot be checked: make this test produce one`)
      continue
    }
    for (const label of selector.labels) if (!seen.has(label)) problems.push(`${where}: ${selector.name} has no label ${label} (it has: ${[...seen].join(', ')})`)
  }
  return problems
}

test('every series the dashboard, the alert rules and their promtool tests use is one a running tollgate exports, with its labels', async (t: TestContext) => {
  t.plan(10)
  const redis = await startRedis(t)
  if (redis === undefined) return
  const tokens = await startTokenEndpoint(t, () => tokenReply('dashboard-token', 600))
  const origin = await startOrigin(t, (req, res) => {
    req.resume()
    if (req.url === '/pause') res.writeHead(429, { 'retry-after': '120' })
    res.end('{}')
  })
  const sidecar = await startSidecar(t, {
    log: { level: 'warn' },
    store: { type: 'redis', url: redis.url, keyPrefix: 'dashboard:', onUnavailable: 'local', commandTimeout: '200ms', unavailableAfter: '300ms' },
    upstreams: {
      vendor: {
        target: origin.url,
        auth: { type: 'oauth2_client_credentials', tokenUrl: tokens.url, clientId: 'id', clientSecret: 'dashboard-secret' },
        rateLimit: { requests: 100, window: '1m', maxWait: '1s' },
        retry: { on429: 0 }
      }
    }
  })
  t.assert.strictEqual((await fetch(`${sidecar.url}/vendor/ok`)).status, 200)
  t.assert.strictEqual((await fetch(`${sidecar.url}/nowhere`)).status, 404)
  await waitFor('the replica to see itself in the replica set', () => sidecar.sidecar.store.status().replicasSeen === 1, 5000)
  await redis.kill()
  await waitFor('Redis to be declared lost', () => !sidecar.sidecar.store.status().available, 5000)
  t.assert.strictEqual((await fetch(`${sidecar.url}/vendor/ok`)).status, 200, 'a start on the fallback share')
  t.assert.strictEqual((await fetch(`${sidecar.url}/vendor/pause`)).status, 429, 'passed back at once: the pause outlasts maxWait')
  const status = sidecar.sidecar.upstreams[0]!.limiter.status()
  t.assert.ok(status.fallbackShare !== undefined && status.pausedUntil !== undefined, 'on the fallback share, and paused')

  const dashboard = dashboardUses()
  const problems = problemsWith([...dashboard, ...alertUses(), ...alertTestUses()], await (await fetch(`${sidecar.url}/metrics`)).text())
  t.assert.deepStrictEqual(problems, [])

  // What part 9 asks the dashboard to show, each by the metric that carries it.
  const shown = new Set(dashboard.map((use) => use.selector.name))
  const asked = [
    'tollgate_limiter_limit', 'tollgate_limiter_window_seconds', 'tollgate_limiter_remaining', // quota used against the limit
    'tollgate_limiter_queue_depth', 'tollgate_limiter_waits_total', 'tollgate_limiter_rejections_total', // queue depth and waits
    'tollgate_upstream_429_total', 'tollgate_upstream_pauses_total', 'tollgate_upstream_paused_until_timestamp_seconds', // 429 pauses
    'tollgate_token_expiry_timestamp_seconds', 'tollgate_token_fetches_total', // token state and refresh failures
    'tollgate_requests_total', 'tollgate_request_duration_seconds_bucket', // rate, status classes, latency
    'tollgate_store_available', 'tollgate_limiter_fallback_share' // store availability
  ]
  t.assert.deepStrictEqual(asked.filter((name) => !shown.has(name)), [], 'the dashboard shows every metric part 9 names')
  // Not vacuous: each source was read.
  t.assert.ok(dashboard.length >= 30, `${dashboard.length} selectors in the dashboard`)
  t.assert.ok(alertUses().length >= 10, 'selectors in the alert rules')
  t.assert.ok(alertTestUses().length >= 10, 'input series in the promtool tests')
})

test('a series tollgate does not export (a histogram by its bare name, a counter without _total), a label it does not put on one, or a series without a sample is reported', (t: TestContext) => {
  t.plan(1)
  const text = '# HELP tollgate_requests_total x\n# TYPE tollgate_requests_total counter\ntollgate_requests_total{upstream="a",status_class="2xx"} 1\n' +
    '# HELP tollgate_request_duration_seconds x\n# TYPE tollgate_request_duration_seconds histogram\ntollgate_request_duration_seconds_bucket{le="+Inf",upstream="a"} 1\n' +
    'tollgate_request_duration_seconds_sum{upstream="a"} 1\ntollgate_request_duration_seconds_count{upstream="a"} 1\n' +
    '# HELP tollgate_limiter_limit x\n# TYPE tollgate_limiter_limit gauge\n'
  const use = (expr: string): Use[] => selectors(expr).map((selector) => ({ where: 'q', selector }))
  t.assert.deepStrictEqual(problemsWith([
    ...use('sum by (le) (rate(tollgate_request_duration_seconds_bucket{upstream="a"}[5m])) / sum(rate(tollgate_request_duration_seconds_count[5m]))'),
    ...use('tollgate_request_duration_seconds_sum + tollgate_requests_total{status_class="5xx"}'),
    ...use('tollgate_request_duration_seconds{upstream="a"}'),
    ...use('rate(tollgate_requests[5m])'),
    ...use('tollgate_requests_total{outcome="failed"}'),
    ...use('tollgate_limiter_limit')
  ], text), [
    'q: tollgate_request_duration_seconds is not exported by tollgate',
    'q: tollgate_requests is not exported by tollgate',
    'q: tollgate_requests_total has no label outcome (it has: upstream, status_class)',
    'q: tollgate_limiter_limit had no sample in the scrape, its labels cannot be checked: make this test produce one'
  ])
})
