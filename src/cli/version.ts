import { existsSync, readFileSync } from 'node:fs'

/**
 * tollgate's version, from its package.json: two levels up from this file
 * beside dist/ and src/ (dist/cli/version.js), one level up from the image's
 * bundle (dist/cli.js), two from a chunk of it (dist/chunks/*.js).
 */
export function packageVersion (): string {
  for (const relative of ['../package.json', '../../package.json']) {
    const file = new URL(relative, import.meta.url)
    if (!existsSync(file)) continue
    const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: unknown, version?: unknown }
    if (pkg.name === 'tollgate') return typeof pkg.version === 'string' ? pkg.version : 'unknown'
  }
  return 'unknown'
}
