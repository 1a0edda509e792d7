/**
 * The repository's docs stand alone. Every relative link in README.md,
 * SECURITY.md and docs/**\/*.md resolves to a file or folder inside the
 * repository (and a `#fragment` into a Markdown file to one of its headings);
 * every repository path a comment in config/*.yaml names exists; and no doc
 * or example config points outside the repository: not at project notes
 * beside the checkout (`../shared/...`), nor at one machine's absolute paths.
 */
import { test, type TestContext } from 'node:test'
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve, sep } from 'node:path'
import { REPO_ROOT } from '../helpers/cli-process.js'

const ROOT = resolve(REPO_ROOT)

/** Markdown files whose links are checked: the README, SECURITY.md and everything under docs/. */
function markdownFiles (): string[] {
  const found = ['README.md', 'SECURITY.md'].filter((name) => existsSync(join(ROOT, name)))
  const walk = (dir: string): void => {
    for (const entry of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
      const path = `${dir}/${entry.name}`
      if (entry.isDirectory()) walk(path)
      else if (entry.name.endsWith('.md')) found.push(path)
    }
  }
  walk('docs')
  return found.sort()
}

const CONFIGS = readdirSync(join(ROOT, 'config')).filter((name) => /\.ya?ml$/.test(name)).map((name) => `config/${name}`).sort()

/** The text outside fenced code blocks, with inline code spans blanked (a path in code is an example, not a link). */
function prose (markdown: string): string {
  let fenced = false
  return markdown.split('\n').map((line) => {
    if (/^\s*(```|~~~)/.test(line)) {
      fenced = !fenced
      return ''
    }
    return fenced ? '' : line.replace(/`[^`]*`/g, (span) => ' '.repeat(span.length))
  }).join('\n')
}

/** Link targets: inline `[text](target "title")`, `[text](<target>)`, reference definitions and HTML href/src. */
function linkTargets (markdown: string): string[] {
  const text = prose(markdown)
  const targets: string[] = []
  for (const match of text.matchAll(/\]\(\s*(<[^>]*>|[^)\s]+)(?:\s+"[^"]*")?\s*\)/g)) targets.push((match[1] as string).replace(/^<|>$/g, ''))
  for (const match of text.matchAll(/^\s{0,3}\[[^\]]+\]:\s*(<[^>]*>|\S+)/gm)) targets.push((match[1] as string).replace(/^<|>$/g, ''))
  for (const match of text.matchAll(/\b(?:href|src)="([^"]+)"/g)) targets.push(match[1] as string)
  return targets
}

/** GitHub's anchors for a Markdown file: one per heading (slugged, duplicates numbered), plus explicit `id`/`name` anchors. */
function anchors (markdown: string): Set<string> {
  const found = new Set<string>()
  const seen = new Map<string, number>()
  let fenced = false
  for (const line of markdown.split('\n')) {
    if (/^\s*(```|~~~)/.test(line)) fenced = !fenced
    if (fenced) continue
    const heading = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line)
    if (heading !== null) {
      // HTML tags vanish, but `<name>` inside a code span is text.
      const slug = (heading[1] as string).split('`').map((part, i) => i % 2 === 1 ? part : part.replace(/<[^>]+>/g, '')).join('')
        .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
        .toLowerCase()
        .replace(/[^\p{L}\p{N}\s_-]/gu, '')
        .replace(/\s/g, '-')
      const count = seen.get(slug) ?? 0
      seen.set(slug, count + 1)
      found.add(count === 0 ? slug : `${slug}-${count}`)
    }
    for (const match of line.matchAll(/<a\s+(?:id|name)="([^"]+)"/g)) found.add(match[1] as string)
  }
  return found
}

/** Every file and folder under `top`, as repository paths with forward slashes. */
function repoPaths (top: string): string[] {
  if (!existsSync(join(ROOT, top))) return []
  const found: string[] = []
  const walk = (dir: string): void => {
    found.push(dir)
    if (!statSync(join(ROOT, dir)).isDirectory()) return
    for (const name of readdirSync(join(ROOT, dir))) walk(`${dir}/${name}`)
  }
  walk(top)
  return found
}

/** `docs/vendors/<vendor>.md` → a pattern where each `<placeholder>` is one path segment's worth of name. */
function placeholderPattern (mentioned: string): RegExp {
  return new RegExp(`^${mentioned.split(/<[^>]+>/).map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('[^/]+')}$`)
}

function insideRepo (absolute: string): boolean {
  return absolute === ROOT || absolute.startsWith(ROOT + sep)
}

/** Mentions that point outside the repository. */
const OUTSIDE = [
  { pattern: /\.\.\/shared\b/, what: 'project notes beside the checkout (../shared)' },
  { pattern: /(?<![\w.-])shared\/(?:vendors|research|contract|style)/, what: 'project notes outside the repository (shared/...)' },
  { pattern: /(?<![\w.-])\/(?:work|home|Users)\//, what: "one machine's absolute path" },
  { pattern: /\b[A-Z]:\\Users\\/, what: "one machine's absolute path" }
]

test('every relative link in README.md, SECURITY.md and docs/ resolves inside the repository', (t: TestContext) => {
  const files = markdownFiles()
  t.assert.ok(files.length > 10, `only ${files.length} Markdown files found`)
  const problems: string[] = []
  let checked = 0
  for (const file of files) {
    const markdown = readFileSync(join(ROOT, file), 'utf8')
    for (const target of linkTargets(markdown)) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue // https:, mailto:: not a file
      const [rawPath = '', fragment] = target.split('#', 2)
      const path = decodeURIComponent(rawPath)
      checked++
      if (path.startsWith('/')) {
        problems.push(`${file}: ${target}: an absolute path; link relative to the file`)
        continue
      }
      const absolute = path === '' ? join(ROOT, file) : resolve(ROOT, dirname(file), path)
      if (!insideRepo(absolute)) {
        problems.push(`${file}: ${target}: leaves the repository`)
        continue
      }
      if (!existsSync(absolute)) {
        problems.push(`${file}: ${target}: ${relative(ROOT, absolute)} does not exist`)
        continue
      }
      if (fragment !== undefined && fragment !== '' && absolute.endsWith('.md') && statSync(absolute).isFile()) {
        if (!anchors(readFileSync(absolute, 'utf8')).has(fragment)) problems.push(`${file}: ${target}: no heading #${fragment} in ${relative(ROOT, absolute)}`)
      }
    }
  }
  t.assert.ok(checked > 30, `only ${checked} relative links found: is the link parser broken?`)
  t.assert.deepStrictEqual(problems, [])
})

test('every repository path a comment in config/*.yaml names exists', (t: TestContext) => {
  const problems: string[] = []
  let checked = 0
  for (const file of CONFIGS) {
    const lines = readFileSync(join(ROOT, file), 'utf8').split('\n')
    lines.forEach((line, index) => {
      const comment = /(?:^|\s)#(.*)$/.exec(line)?.[1]
      if (comment === undefined) return
      // URLs are the vendors' pages, not repository paths.
      const text = comment.replace(/\b[a-z][a-z0-9+.-]*:\/\/\S+/gi, '')
      for (const match of text.matchAll(/(?<![\w./-])((?:README\.md|SECURITY\.md|LICENSE|(?:docs|config|deploy|src|test|scripts|bench)\/[\w.<>/-]*[\w>]))/g)) {
        const mentioned = match[1] as string
        // config/secrets/ is where the guides put local keys: git-ignored, never in the repository.
        if (mentioned === 'config/secrets' || mentioned.startsWith('config/secrets/')) continue
        checked++
        // `docs/vendors/<vendor>.md` stands for a family: at least one file must match.
        const exists = mentioned.includes('<')
          ? repoPaths(mentioned.split('/')[0] as string).some((path) => placeholderPattern(mentioned).test(path))
          : existsSync(join(ROOT, mentioned))
        if (!exists) problems.push(`${file}:${index + 1}: ${mentioned} is not in the repository`)
      }
    })
  }
  t.assert.ok(checked >= CONFIGS.length, `only ${checked} paths found in ${CONFIGS.length} configs' comments: is the parser broken?`)
  t.assert.deepStrictEqual(problems, [])
})

test('no doc or example config points outside the repository', (t: TestContext) => {
  const problems: string[] = []
  for (const file of [...markdownFiles(), ...CONFIGS]) {
    readFileSync(join(ROOT, file), 'utf8').split('\n').forEach((line, index) => {
      const found = OUTSIDE.find(({ pattern }) => pattern.test(line))
      if (found !== undefined) problems.push(`${file}:${index + 1}: ${found.what}: ${line.trim()}`)
    })
  }
  t.assert.deepStrictEqual(problems, [])
})

test('the checks above catch what they are for', (t: TestContext) => {
  t.assert.deepStrictEqual(linkTargets('[a](b.md) `[c](d.md)` [e](<f g.md> "t")\n```\n[h](i.md)\n```\n[j]: k.md\n<a href="l.md">'), ['b.md', 'f g.md', 'k.md', 'l.md'])
  t.assert.deepStrictEqual([...anchors('# What happens to a request\n## `server.adminPort`\n### `upstreams.<name>.auth`\n## Keys\n## Keys\n```\n# not a heading\n```')],
    ['what-happens-to-a-request', 'serveradminport', 'upstreamsnameauth', 'keys', 'keys-1'])
  const outside = (text: string): boolean => OUTSIDE.some(({ pattern }) => pattern.test(text))
  for (const bad of ['see ../shared/contract.md', '(project copy shared/vendors/redox.txt)', '/work/shared/research/x.md', '/home/me/tollgate', '/Users/me/keys']) t.assert.ok(outside(bad), bad)
  for (const good of ['a shared store', '/run/secrets/halaxy-client-secret', '/etc/tollgate/tollgate.yaml', 'src/store/shared-window.ts']) t.assert.ok(!outside(good), good)
})
