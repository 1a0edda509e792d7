#!/usr/bin/env node
// `npm run build` (and `prepare`, which `npm ci` runs): dist/ anew from src/.
// - dist/ is emptied first: tsc never deletes output, so a module whose source
//   is gone would otherwise stay behind and be packed.
// - dist/cli.js is made executable: npm links the bin before `prepare` has
//   built it, so it cannot set the mode itself, and `npx --no -- tollgate`
//   in a fresh clone then failed with "Permission denied".
// `--out-dir DIR` builds into DIR instead (the footprint bench builds the
// image's dist/ there, leaving the checkout's alone).
//
// `--bundle`: the container image's dist/ instead (the Dockerfile builds it
// with `--bundle --out-dir`): src/cli.ts and what it imports, its
// dependencies with it, bundled by esbuild into dist/cli.js, the commands and
// modules it loads on demand as chunks beside it (dist/chunks/). Node then
// reads, resolves and links a few dozen files at startup instead of some six
// hundred: the sidecar is ready sooner, on less CPU and a smaller heap
// (docs/benchmarks.md, "Footprint"). Not bundled: what tollgate loads only
// when a config asks for it, or by a name computed at run time, which stays
// in node_modules (the image's production dependencies): ioredis, jose,
// OpenTelemetry's SDK and exporters, pino-pretty; and prom-client, whose
// default metrics src/ops/process-metrics.ts requires module by module. No
// type checking here: `npm run typecheck` (and the tsc build) do that.
import { execFileSync } from 'node:child_process'
import { chmodSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { parseArgs } from 'node:util'

const { values } = parseArgs({ options: { 'out-dir': { type: 'string', default: 'dist' }, bundle: { type: 'boolean', default: false } } })
const outDir = values['out-dir']
const require = createRequire(import.meta.url)
rmSync(outDir, { recursive: true, force: true })
if (values.bundle) {
  const { build } = await import('esbuild')
  await build({
    entryPoints: { cli: 'src/cli.ts' },
    outdir: outDir,
    bundle: true,
    splitting: true,
    chunkNames: 'chunks/[name]-[hash]',
    platform: 'node',
    format: 'esm',
    target: 'node22',
    sourcemap: true,
    sourcesContent: true,
    // No comments and no indentation: V8 keeps every module's source in the heap, and holds it at two
    // bytes a character once one character is not ASCII (a comment's "’"; esbuild escapes them
    // everywhere else). Minified whitespace, the sources of an idle sidecar took some 4 MB less of its
    // heap (docs/benchmarks.md, "Footprint"); the source maps still give every line. The licence
    // comments that esbuild keeps go to a .LEGAL.txt beside each file.
    minifyWhitespace: true,
    legalComments: 'external',
    external: ['ioredis', 'jose', '@opentelemetry/*', 'pino-pretty', 'prom-client', 'prom-client/*'],
    // The CommonJS dependencies inside an ES module still `require` Node's built-ins.
    banner: { js: "import { createRequire as tollgateRequire } from 'node:module'; const require = tollgateRequire(import.meta.url);" },
    logLevel: 'warning'
  })
} else {
  execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.build.json', '--outDir', outDir], { stdio: 'inherit' })
}
chmodSync(join(outDir, 'cli.js'), 0o755)
