// Preloaded into a CLI child (NODE_OPTIONS=--import=<this file>) by
// test/cli/tracing-off-module-graph.test.ts: writes to the file named by
// TOLLGATE_MODULE_LOG every module the process loads, one line each:
//   esm <url> <importer's url>     as a resolve hook sees it resolved (module.registerHooks,
//                                  or where there is none module.register, whose hook runs
//                                  on the loader thread and appends itself)
//   cjs <file>                     from the require cache, when the process exits
//   req <file> <required by>       the same, for @opentelemetry files: who required them
// Plain JavaScript: it runs before tsx is loaded.
import { appendFileSync } from 'node:fs'
import module, { createRequire, register } from 'node:module'

const file = process.env.TOLLGATE_MODULE_LOG
if (file === undefined || file === '') throw new Error('module-recorder: TOLLGATE_MODULE_LOG is not set')

const record = (resolved, context) => appendFileSync(file, `esm ${resolved.url} ${context.parentURL ?? ''}\n`)
if (typeof module.registerHooks === 'function') {
  // Node 22.15+: in-thread hooks. Node 26 deprecates register() (DEP0205), and the warning
  // guard would fail the CLI for it. These hooks see require() too: those are the `cjs` lines.
  module.registerHooks({
    resolve (specifier, context, next) {
      const resolved = next(specifier, context)
      if (!(context.conditions ?? []).includes('require')) record(resolved, context)
      return resolved
    }
  })
} else {
  const hooks = `
import { appendFileSync } from 'node:fs'
export async function resolve (specifier, context, next) {
  const resolved = await next(specifier, context)
  appendFileSync(${JSON.stringify(file)}, 'esm ' + resolved.url + ' ' + (context.parentURL ?? '') + '\\n')
  return resolved
}
`
  register(`data:text/javascript,${encodeURIComponent(hooks)}`)
}

const cache = createRequire(import.meta.url).cache
process.on('exit', () => {
  const lines = Object.keys(cache).map((name) => `cjs ${name}\n`)
  for (const [name, module] of Object.entries(cache)) {
    for (const child of module?.children ?? []) {
      if (child.filename.includes('/node_modules/@opentelemetry/') && !name.includes('/node_modules/@opentelemetry/')) lines.push(`req ${child.filename} ${name}\n`)
    }
  }
  appendFileSync(file, lines.join(''))
})
