import { readFileSync } from 'node:fs'

/** tollgate's version, from its package.json (beside dist/ and src/ alike, two levels up from this file). */
export function packageVersion (): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown }
  return typeof pkg.version === 'string' ? pkg.version : 'unknown'
}
