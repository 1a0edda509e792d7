/** Config files (and the files they reference) written to a fresh tmp folder per test. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TestContext } from 'node:test'

export interface FixtureDir {
  readonly dir: string
  /** Writes `content` to `name` inside the folder and returns its absolute path. */
  write (name: string, content: string): string
}

export function fixtureDir (t: TestContext): FixtureDir {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-test-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  return {
    dir,
    write (name, content) {
      const file = join(dir, name)
      writeFileSync(file, content)
      return file
    }
  }
}
