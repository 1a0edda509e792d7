/**
 * Issue 19, part 9: the dashboard's ConfigMap carries tollgate-dashboard.json
 * byte for byte (scripts/grafana-configmap.mjs writes it), with the label
 * Grafana's dashboard sidecar looks for; and the dashboard works on any
 * Prometheus data source, not only the one it was exported from.
 */
import { readFileSync } from 'node:fs'
import { test, type TestContext } from 'node:test'
import { parse } from 'yaml'

const JSON_FILE = 'deploy/grafana/tollgate-dashboard.json'
const CONFIGMAP = 'deploy/grafana/tollgate-dashboard.configmap.yaml'
/** Grafana's reference to the dashboard's data source variable (a literal, not a JS template). */
const DATASOURCE = '$' + '{datasource}'

interface Panel {
  readonly id: number
  readonly type: string
  readonly title: string
  readonly gridPos: { readonly x: number, readonly y: number, readonly w: number, readonly h: number }
  readonly datasource?: { readonly type: string, readonly uid: string }
  readonly targets?: ReadonlyArray<{ readonly datasource?: { readonly uid: string }, readonly expr: string }>
  readonly panels?: readonly Panel[]
}

test('the ConfigMap carries the dashboard JSON unchanged, labelled grafana_dashboard: "1" (else: node scripts/grafana-configmap.mjs)', (t: TestContext) => {
  t.plan(4)
  const json = readFileSync(JSON_FILE, 'utf8')
  const configMap = parse(readFileSync(CONFIGMAP, 'utf8')) as { kind: string, metadata: { name: string, labels: Record<string, unknown> }, data: Record<string, string> }
  t.assert.strictEqual(configMap.kind, 'ConfigMap')
  t.assert.strictEqual(configMap.metadata.labels.grafana_dashboard, '1', 'a string: a label value is never a number')
  t.assert.deepStrictEqual(Object.keys(configMap.data), ['tollgate-dashboard.json'])
  t.assert.ok(configMap.data['tollgate-dashboard.json'] === json, `${CONFIGMAP} differs from ${JSON_FILE}: run node scripts/grafana-configmap.mjs`)
})

test('every panel queries the $datasource variable, ids are unique, and panels stay within the 24-column grid without overlapping', (t: TestContext) => {
  t.plan(5)
  const dashboard = JSON.parse(readFileSync(JSON_FILE, 'utf8')) as { uid: string, panels: Panel[], templating: { list: Array<{ name: string, type: string, query: string }> } }
  const panels = dashboard.panels.flatMap((panel) => [panel, ...(panel.panels ?? [])])
  const queried = panels.filter((panel) => panel.type !== 'row')
  t.assert.strictEqual(dashboard.uid, 'tollgate', 'a fixed uid: links to the dashboard survive a reload')
  t.assert.deepStrictEqual(dashboard.templating.list.filter((v) => v.type === 'datasource').map((v) => [v.name, v.query]), [['datasource', 'prometheus']])
  const pinned = queried.flatMap((panel) => [panel.datasource, ...(panel.targets ?? []).map((target) => target.datasource)]
    .filter((ds) => ds?.uid !== DATASOURCE).map(() => panel.title))
  t.assert.deepStrictEqual(pinned, [], `panels or targets with a data source other than ${DATASOURCE}`)
  const ids = panels.map((panel) => panel.id)
  t.assert.strictEqual(new Set(ids).size, ids.length, 'panel ids are unique')
  const taken = new Map<string, string>()
  const clashes: string[] = []
  for (const panel of panels) {
    const { x, y, w, h } = panel.gridPos
    if (x < 0 || w < 1 || x + w > 24) clashes.push(`${panel.title}: outside the grid (x ${x}, w ${w})`)
    for (let row = y; row < y + h; row++) {
      for (let column = x; column < Math.min(x + w, 24); column++) {
        const other = taken.get(`${row},${column}`)
        if (other !== undefined) clashes.push(`${panel.title} overlaps ${other}`)
        taken.set(`${row},${column}`, panel.title)
      }
    }
  }
  t.assert.deepStrictEqual([...new Set(clashes)], [])
})
