/* eslint-disable no-template-curly-in-string -- ${kind:…} is the config syntax under test */
import { test, type TestContext } from 'node:test'
import { resolveConfig } from '../../src/config/load.js'

function tokenProblem (token: string): string | undefined {
  const result = resolveConfig({ upstreams: { a: { target: 'http://127.0.0.1:9', auth: { type: 'static_bearer', token } } } }, { env: { X: 'set' } })
  return result.issues?.find((issue) => issue.path === 'upstreams.a.auth.token')?.message
}

// `${vault:secret/halaxy}` was answered "a default is written ${vault:-default}": a hint for a
// variable's default, which sends the user towards a literal fallback instead of a secret source.
test('an unknown ${kind:…} says which kinds there are, not how to write a default', (t: TestContext) => {
  t.plan(4)
  for (const reference of ['${vault:secret/halaxy}', '${aws-ssm:/prod/halaxy}']) {
    const message = tokenProblem(reference) ?? ''
    t.assert.match(message, /^\$\{[a-z-]+:…\} is not a kind tollgate reads: the only kind is \$\{file:PATH\} \(a secret store's value: mount it as a file, or pass it as an environment variable\); the forms are/, reference)
  }
  // An upper-case name with one colon is a variable with a misspelt default, as before.
  t.assert.match(tokenProblem('${X:fallback}') ?? '', /a default is written \$\{X:-default\}/)
  t.assert.match(tokenProblem('${env:X}') ?? '', /did you mean \$\{X\}\?/)
})
