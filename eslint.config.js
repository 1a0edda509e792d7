import neostandard, { resolveIgnoresFromGitignore } from 'neostandard'

export default [
  ...neostandard({ ts: true, ignores: ['dist/**', ...resolveIgnoresFromGitignore()] }),
  {
    files: ['src/**/*.ts'],
    ignores: ['src/cli.ts'],
    rules: { 'n/no-process-exit': 'error' }
  }
]
