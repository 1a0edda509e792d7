import neostandard, { resolveIgnoresFromGitignore } from 'neostandard'

export default [
  ...neostandard({ ts: true, ignores: ['dist/**', ...resolveIgnoresFromGitignore()] }),
  {
    files: ['src/**/*.ts'],
    ignores: ['src/cli.ts'],
    rules: { 'n/no-process-exit': 'error' }
  },
  {
    // The stores sit under auth and limit: those define the interfaces (TokenStore, WindowStore)
    // and know nothing of Redis or of the proxy; src/store implements them; src/server.ts wires them.
    files: ['src/auth/**/*.ts', 'src/limit/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [
          { group: ['**/store/*', '**/store/**', '**/store'], message: 'src/auth and src/limit define the store interfaces; src/store implements them (wired in src/server.ts).' },
          { group: ['**/proxy/*', '**/proxy/**'], message: 'src/auth and src/limit know nothing of the request path (src/proxy).' },
          { group: ['ioredis'], message: 'Redis lives in src/store.' }
        ]
      }]
    }
  }
]
