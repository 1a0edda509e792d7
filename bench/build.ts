/**
 * The processes under measurement run plain JavaScript, as `node dist/cli.js`
 * does in production: under `--import tsx` a proxy process carries the
 * loader's hooks thread (about 21 MB more RSS on Node 20, measured) and
 * transpiles on the fly. So src/ and bench/ are transpiled file by file
 * (TypeScript's transpileModule: types stripped, nothing checked; `npm test`
 * type-checks) into node_modules/.cache/tollgate-bench/<name>/, where bare
 * imports still resolve to the repository's node_modules. Source maps are
 * written alongside, so a CPU profile maps back to src/*.ts lines.
 */
import { copyFile, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { dirname, join, relative } from 'node:path'
import ts from 'typescript'

export interface BuiltTree {
  /** Where `src/` and `bench/` were written. */
  readonly outDir: string
  /** The tree they came from. */
  readonly rootDir: string
}

const COMPILER_OPTIONS: ts.CompilerOptions = {
  target: ts.ScriptTarget.ES2022,
  module: ts.ModuleKind.ESNext,
  verbatimModuleSyntax: true,
  sourceMap: true
}

/** Transpile `<rootDir>/src` and `<benchDir>` into `<cacheRoot>/<name>/{src,bench}`. */
export async function buildTree (rootDir: string, benchDir: string, cacheRoot: string, name: string): Promise<BuiltTree> {
  const outDir = join(cacheRoot, name)
  await rm(outDir, { recursive: true, force: true })
  await transpileDir(join(rootDir, 'src'), join(outDir, 'src'))
  await transpileDir(benchDir, join(outDir, 'bench'))
  // The server reads its version from the package.json beside src/ (src/cli/version.ts).
  await copyFile(join(rootDir, 'package.json'), join(outDir, 'package.json'))
  return { outDir, rootDir }
}

async function transpileDir (from: string, to: string): Promise<void> {
  const entries = await readdir(from, { recursive: true, withFileTypes: true })
  await Promise.all(entries.filter((entry) => entry.isFile() && entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')).map(async (entry) => {
    const source = join(entry.parentPath, entry.name)
    const target = join(to, relative(from, source)).replace(/\.ts$/, '.js')
    const text = await readFile(source, 'utf8')
    const out = ts.transpileModule(text, { compilerOptions: COMPILER_OPTIONS, fileName: source, reportDiagnostics: false })
    await mkdir(dirname(target), { recursive: true })
    const mapName = `${target}.map`
    const map = JSON.parse(out.sourceMapText ?? '{}') as { sources?: string[] }
    // The map names the original by absolute path, so a profile reader needs no layout knowledge.
    map.sources = [source]
    await writeFile(mapName, JSON.stringify(map))
    await writeFile(target, out.outputText.replace(/\/\/# sourceMappingURL=.*$/m, `//# sourceMappingURL=${entry.name.replace(/\.ts$/, '.js')}.map`))
  }))
}
