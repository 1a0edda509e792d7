/**
 * docs/operations.md's metrics table and what /metrics serves are the same
 * list: a real sidecar is started and scraped, after one request it answers
 * itself (404) and one it sends towards an upstream that refuses the
 * connection (502), so the labelled series exist. Every metric family served
 * has a row (prom-client's default process metrics are one row, as the
 * `tollgate_process_*` / `tollgate_nodejs_*` families), every row names a
 * family that is served, and a row's `{labels}` are the labels its samples carry.
 */
import { test, type TestContext } from 'node:test'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { REPO_ROOT } from '../helpers/cli-process.js'
import { parsePrometheus } from '../helpers/prometheus.js'
import { startSidecar } from '../helpers/sidecar.js'
import { freePort } from '../helpers/ports.js'

interface Row { readonly name: string, readonly labels: readonly string[] | undefined, readonly family: boolean }

/** The rows of the table under `## Metrics`: `tollgate_x{a,b}` (labels), `tollgate_x` (none) or `tollgate_x_*` (a family). */
function documentedMetrics (): Row[] {
  const text = readFileSync(join(REPO_ROOT, 'docs', 'operations.md'), 'utf8')
  const section = text.slice(text.indexOf('\n## Metrics'), text.indexOf('\n## ', text.indexOf('\n## Metrics') + 1))
  const rows: Row[] = []
  for (const line of section.split('\n')) {
    const cell = /^\|\s*([^|]*?)\s*\|/.exec(line)?.[1]
    if (cell === undefined) continue
    for (const match of cell.matchAll(/`(tollgate_[a-z0-9_]*)(\*|\{([a-z_,]*)\})?`/g)) {
      const name = match[1] as string
      rows.push({ name, family: match[2] === '*', labels: match[3]?.split(',').filter((label) => label !== '') })
    }
  }
  return rows
}

test('docs/operations.md documents exactly the metrics /metrics serves, with their labels', async (t: TestContext) => {
  const sidecar = await startSidecar(t, {
    upstreams: { vendor: { target: `http://127.0.0.1:${await freePort()}`, auth: { type: 'none' }, rateLimit: { requests: 10, window: '1s' } } }
  })
  t.assert.strictEqual((await fetch(`${sidecar.url}/nowhere`)).status, 404)
  t.assert.strictEqual((await fetch(`${sidecar.url}/vendor/x`)).status, 502)
  const text = await (await fetch(`${sidecar.url}/metrics`)).text()

  const served = new Map<string, string>()
  for (const match of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) served.set(match[1] as string, match[2] as string)
  const samples = parsePrometheus(text)
  const rows = documentedMetrics()
  t.assert.ok(rows.length > 10, `only ${rows.length} rows found under ## Metrics`)

  const families = rows.filter((row) => row.family).map((row) => row.name)
  const covered = (name: string): boolean => families.some((prefix) => name.startsWith(prefix))
  const named = new Set(rows.filter((row) => !row.family).map((row) => row.name))

  const undocumented = [...served.keys()].filter((name) => !named.has(name) && !covered(name))
  t.assert.deepStrictEqual(undocumented, [], 'served by /metrics, missing from docs/operations.md')
  const unserved = [...named].filter((name) => !served.has(name))
  t.assert.deepStrictEqual(unserved, [], 'in docs/operations.md, not served by /metrics')
  for (const prefix of families) t.assert.ok([...served.keys()].some((name) => name.startsWith(prefix)), `no metric served matches ${prefix}*`)

  for (const row of rows) {
    if (row.family) continue
    const histogram = served.get(row.name) === 'histogram'
    const own = samples.filter((sample) => histogram ? [`${row.name}_bucket`, `${row.name}_sum`, `${row.name}_count`].includes(sample.name) : sample.name === row.name)
    if (own.length === 0) continue // a gauge absent until it has a value (no token, no pause)
    const labels = new Set(own.flatMap((sample) => Object.keys(sample.labels).filter((label) => label !== 'le')))
    t.assert.deepStrictEqual([...labels].sort(), [...(row.labels ?? [])].sort(), `${row.name}: labels served vs documented`)
  }
})
