/**
 * Reads a V8 .cpuprofile (from `node --cpu-prof`) and says where the time
 * went: self time per function, self time per area (tollgate's src/ files,
 * each package, Node's internals, GC), and inclusive time of tollgate's own
 * functions. Locations in the transpiled tree are mapped back to src/*.ts
 * lines through the source maps bench/build.ts writes.
 *
 * Standalone: node --import tsx bench/cpuprofile.ts FILE.cpuprofile [top]
 */
import { existsSync, readFileSync } from 'node:fs'
import { SourceMap } from 'node:module'
import { relative } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

interface CallFrame {
  readonly functionName: string
  readonly url: string
  readonly lineNumber: number
  readonly columnNumber: number
}

interface ProfileNode {
  readonly id: number
  readonly callFrame: CallFrame
  readonly children?: readonly number[]
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[]
  /** Microseconds, on the same monotonic clock as process.hrtime. */
  readonly startTime: number
  readonly endTime: number
  readonly samples: readonly number[]
  readonly timeDeltas: readonly number[]
}

export interface ProfileRow {
  readonly name: string
  readonly where: string
  readonly area: string
  readonly ms: number
  /** Of the busy (non-idle) time. */
  readonly pct: number
}

export interface ProfileSummary {
  readonly windowMs: number
  readonly busyMs: number
  readonly idleMs: number
  readonly self: ProfileRow[]
  readonly areas: ProfileRow[]
  /** Inclusive time of functions in tollgate's src/. */
  readonly srcInclusive: ProfileRow[]
}

interface Location { readonly where: string, readonly area: string }

/** `repoRoot` names src/ files relative to it; `window` (µs, hrtime clock) keeps only the samples inside it. */
export function summariseProfile (file: string, repoRoot: string, window?: { fromUs: number, toUs: number }): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile
  const byId = new Map<number, ProfileNode>()
  const parent = new Map<number, number>()
  for (const node of profile.nodes) {
    byId.set(node.id, node)
    for (const child of node.children ?? []) parent.set(child, node.id)
  }
  const locate = locator(repoRoot)
  const keyOf = new Map<number, { key: string, name: string } & Location>()
  for (const node of profile.nodes) {
    const location = locate(node.callFrame)
    const name = node.callFrame.functionName === '' ? '(anonymous)' : node.callFrame.functionName
    keyOf.set(node.id, { key: `${name} ${location.where}`, name, ...location })
  }

  const self = new Map<string, number>()
  const inclusive = new Map<string, number>()
  let busyUs = 0
  let idleUs = 0
  let t = profile.startTime
  const meanDelta = (profile.endTime - profile.startTime) / Math.max(1, profile.samples.length)
  for (let i = 0; i < profile.samples.length; i++) {
    t += profile.timeDeltas[i] ?? 0
    if (window !== undefined && (t < window.fromUs || t > window.toUs)) continue
    const duration = profile.timeDeltas[i + 1] ?? meanDelta
    const id = profile.samples[i] as number
    const info = keyOf.get(id)
    if (info === undefined) continue
    if (info.name === '(idle)') {
      idleUs += duration
      continue
    }
    busyUs += duration
    self.set(info.key, (self.get(info.key) ?? 0) + duration)
    const seen = new Set<string>()
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const frame = keyOf.get(at)
      if (frame === undefined || seen.has(frame.key)) continue
      seen.add(frame.key)
      if (frame.area.startsWith('src/')) inclusive.set(frame.key, (inclusive.get(frame.key) ?? 0) + duration)
    }
  }

  const info = new Map([...keyOf.values()].map((v) => [v.key, v]))
  const rows = (totals: Map<string, number>, describe: (key: string) => { name: string, where: string, area: string }): ProfileRow[] =>
    [...totals.entries()]
      .map(([key, us]) => ({ ...describe(key), ms: us / 1000, pct: busyUs === 0 ? 0 : (100 * us) / busyUs }))
      .sort((a, b) => b.ms - a.ms)
  const describeFunction = (key: string): { name: string, where: string, area: string } => {
    const v = info.get(key)
    return { name: v?.name ?? key, where: v?.where ?? '', area: v?.area ?? '' }
  }
  const areas = new Map<string, number>()
  for (const [key, us] of self) {
    const area = info.get(key)?.area ?? '?'
    areas.set(area, (areas.get(area) ?? 0) + us)
  }
  return {
    windowMs: (busyUs + idleUs) / 1000,
    busyMs: busyUs / 1000,
    idleMs: idleUs / 1000,
    self: rows(self, describeFunction),
    areas: rows(areas, (area) => ({ name: area, where: '', area })),
    srcInclusive: rows(inclusive, describeFunction)
  }
}

/** callFrame → where (file:line, 1-based) and area (src/<file>, a package, node:<module>, V8). */
function locator (repoRoot: string): (frame: CallFrame) => Location {
  const maps = new Map<string, SourceMap | undefined>()
  const sourceMap = (path: string): SourceMap | undefined => {
    if (!maps.has(path)) {
      const mapFile = `${path}.map`
      maps.set(path, existsSync(mapFile) ? new SourceMap(JSON.parse(readFileSync(mapFile, 'utf8'))) : undefined)
    }
    return maps.get(path)
  }
  return (frame) => {
    const { url, lineNumber, columnNumber } = frame
    if (url === '') return { where: '', area: frame.functionName.startsWith('(') ? frame.functionName : '(native)' }
    if (url.startsWith('node:')) {
      const module = url.slice(5).replace(/^internal\//, '').split('/')[0] ?? url
      return { where: `${url}:${lineNumber + 1}`, area: `node:${module.replace(/^_/, '')}` }
    }
    const path = url.startsWith('file://') ? fileURLToPath(url) : url
    const cached = path.indexOf('/node_modules/.cache/')
    if (cached !== -1) {
      const entry = sourceMap(path)?.findEntry(lineNumber, columnNumber) as { originalSource?: string, originalLine?: number } | undefined
      const original = entry?.originalSource !== undefined ? relative(repoRoot, entry.originalSource.startsWith('file://') ? fileURLToPath(entry.originalSource) : entry.originalSource) : path
      const line = entry?.originalLine !== undefined ? entry.originalLine + 1 : lineNumber + 1
      return { where: `${original}:${line}`, area: original.startsWith('src/') ? original : 'bench harness' }
    }
    const inModules = path.lastIndexOf('/node_modules/')
    if (inModules !== -1) {
      const rest = path.slice(inModules + 14)
      const parts = rest.split('/')
      const pkg = rest.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0] ?? rest
      return { where: `${rest}:${lineNumber + 1}`, area: pkg }
    }
    return { where: `${path}:${lineNumber + 1}`, area: 'other' }
  }
}

export function formatProfile (summary: ProfileSummary, top = 25): string {
  const fmt = (rows: ProfileRow[], n: number, withWhere: boolean): string => [
    withWhere ? '| function | where | self ms | % of busy |' : '| area | self ms | % of busy |',
    withWhere ? '|---|---|---:|---:|' : '|---|---:|---:|',
    ...rows.slice(0, n).map((r) => withWhere
      ? `| ${r.name} | ${r.where} | ${r.ms.toFixed(0)} | ${r.pct.toFixed(1)} |`
      : `| ${r.name} | ${r.ms.toFixed(0)} | ${r.pct.toFixed(1)} |`)
  ].join('\n')
  return [
    `window ${summary.windowMs.toFixed(0)} ms: busy ${summary.busyMs.toFixed(0)} ms, idle ${summary.idleMs.toFixed(0)} ms (main thread)`,
    '',
    'Self time by area:',
    fmt(summary.areas, 20, false),
    '',
    `Top ${top} functions by self time:`,
    fmt(summary.self, top, true),
    '',
    'tollgate src/ functions by inclusive time (their callees included):',
    fmt(summary.srcInclusive.map((r) => ({ ...r })), 15, true).replace('self ms', 'incl. ms')
  ].join('\n')
}

/**
 * Profiles of the same load side by side, in CPU µs per request by area, the
 * median over each target's profiles: the floor's column against tollgate's
 * shows where tollgate's extra time goes.
 */
export function formatAreaComparison (profiles: ReadonlyArray<{ readonly target: string, readonly requests: number, readonly summary: ProfileSummary }>, top = 18): string {
  const targets = [...new Set(profiles.map((p) => p.target))]
  const perRequest = (target: string, area: string | undefined): number => {
    const values = profiles.filter((p) => p.target === target).map((p) => {
      const ms = area === undefined ? p.summary.busyMs : p.summary.areas.find((a) => a.name === area)?.ms ?? 0
      return (ms * 1000) / Math.max(1, p.requests)
    }).sort((a, b) => a - b)
    const mid = values.length >> 1
    return values.length % 2 === 1 ? values[mid] as number : ((values[mid - 1] as number) + (values[mid] as number)) / 2
  }
  const areas = [...new Set(profiles.flatMap((p) => p.summary.areas.map((a) => a.name)))]
    .map((area) => ({ area, most: Math.max(...targets.map((t) => perRequest(t, area))) }))
    .sort((a, b) => b.most - a.most)
    .slice(0, top)
  return [
    `| area | ${targets.map((t) => `${t} µs/req`).join(' | ')} |`,
    `|---|${targets.map(() => '---:').join('|')}|`,
    `| **all (main thread busy)** | ${targets.map((t) => perRequest(t, undefined).toFixed(1)).join(' | ')} |`,
    ...areas.map(({ area }) => `| ${area} | ${targets.map((t) => perRequest(t, area).toFixed(1)).join(' | ')} |`)
  ].join('\n')
}

/**
 * Self time per request, function by function, of `profile` against `floor`
 * (the bare proxy under the same load): the rows where tollgate spends more
 * are its per-request extras, the first place to look for waste.
 */
export function formatFunctionDiff (floor: { readonly requests: number, readonly summary: ProfileSummary }, profile: { readonly target: string, readonly requests: number, readonly summary: ProfileSummary }, top = 30): string {
  const perRequest = (rows: readonly ProfileRow[], requests: number): Map<string, { row: ProfileRow, us: number }> =>
    new Map(rows.map((row) => [`${row.name} ${row.where}`, { row, us: (row.ms * 1000) / Math.max(1, requests) }]))
  const base = perRequest(floor.summary.self, floor.requests)
  const mine = perRequest(profile.summary.self, profile.requests)
  const diffs = [...new Set([...base.keys(), ...mine.keys()])].map((key) => {
    const a = base.get(key)
    const b = mine.get(key)
    const row = (b ?? a)?.row as ProfileRow
    return { row, floor: a?.us ?? 0, mine: b?.us ?? 0, diff: (b?.us ?? 0) - (a?.us ?? 0) }
  }).sort((x, y) => y.diff - x.diff)
  return [
    `| function | where | bare µs/req | ${profile.target} µs/req | extra µs/req |`,
    '|---|---|---:|---:|---:|',
    ...diffs.slice(0, top).map((d) => `| ${d.row.name} | ${d.row.where} | ${d.floor.toFixed(2)} | ${d.mine.toFixed(2)} | ${d.diff.toFixed(2)} |`)
  ].join('\n')
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const file = process.argv[2]
  if (file === undefined) {
    process.stderr.write('usage: node --import tsx bench/cpuprofile.ts FILE.cpuprofile [top]\n')
    process.exitCode = 1
  } else {
    process.stdout.write(`${formatProfile(summariseProfile(file, process.cwd()), Number(process.argv[3] ?? 25))}\n`)
  }
}
