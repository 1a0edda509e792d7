#!/usr/bin/env node
// `npm run build` (and `prepare`, which `npm ci` runs): dist/ anew from src/.
// - dist/ is emptied first: tsc never deletes output, so a module whose source
//   is gone would otherwise stay behind and be packed.
// - dist/cli.js is made executable: npm links the bin before `prepare` has
//   built it, so it cannot set the mode itself, and `npx --no -- tollgate`
//   in a fresh clone then failed with "Permission denied".
// `--out-dir DIR` builds into DIR instead (the footprint bench builds the
// image's dist/ there, leaving the checkout's alone).
import { execFileSync } from 'node:child_process'
import { chmodSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { parseArgs } from 'node:util'

const { values } = parseArgs({ options: { 'out-dir': { type: 'string', default: 'dist' } } })
const outDir = values['out-dir']
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc')
rmSync(outDir, { recursive: true, force: true })
execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json', '--outDir', outDir], { stdio: 'inherit' })
chmodSync(join(outDir, 'cli.js'), 0o755)
