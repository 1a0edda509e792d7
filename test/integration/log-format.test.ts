/**
 * JSON lines by default (the contract); `log.format: pretty` or
 * TOLLGATE_LOG_FORMAT=pretty for lines a person reads, through pino-pretty,
 * loaded only when asked for; TOLLGATE_LOG_LEVEL over the file's log.level.
 */
import { spawn } from 'node:child_process'
import { test, type TestContext } from 'node:test'
import { resolveConfig } from '../../src/config/load.js'
import type { Config } from '../../src/config/types.js'
import { buildServer } from '../../src/server.js'
import { REPO_ROOT } from '../helpers/cli-process.js'
import { fixtureDir } from '../helpers/fixtures.js'
import { logSink, type LogSink } from '../helpers/log-sink.js'
import { startOrigin } from '../helpers/origin.js'
import { startSidecar } from '../helpers/sidecar.js'

const INBOUND = 'inbound-token-for-pretty-Wq82'

function configOf (raw: Record<string, unknown>): Config {
  const result = resolveConfig(raw, { env: {} })
  if (result.issues !== undefined) throw new Error(JSON.stringify(result.issues))
  return result.config
}

/** A sidecar built as the CLI builds it, with `env` for TOLLGATE_LOG_*; one request through it. */
async function oneRequest (t: TestContext, log: Record<string, unknown>, env: NodeJS.ProcessEnv): Promise<LogSink> {
  const origin = await startOrigin(t)
  const logs = logSink()
  const sidecar = await buildServer(configOf({ log, upstreams: { vendor: { target: origin.url } } }), { logStream: logs.stream, env })
  t.after(() => sidecar.app.close())
  await sidecar.app.listen({ host: '127.0.0.1', port: 0 })
  const { port } = sidecar.app.server.address() as { port: number }
  await (await fetch(`http://127.0.0.1:${port}/vendor/Patient?name=x`)).arrayBuffer()
  await sidecar.app.close()
  return logs
}

test('JSON lines by default', async (t: TestContext) => {
  t.plan(2)
  const logs = await oneRequest(t, {}, {})
  const lines = logs.text().trim().split('\n')
  t.assert.ok(lines.length > 0)
  t.assert.ok(lines.every((line) => typeof JSON.parse(line) === 'object'), 'every line is a JSON object')
})

test('log.format: pretty gives readable lines, still censored', async (t: TestContext) => {
  t.plan(5)
  const origin = await startOrigin(t)
  const { url, logs, close } = await startSidecar(t, { log: { format: 'pretty' }, server: { inboundToken: INBOUND }, upstreams: { vendor: { target: origin.url } } })
  await (await fetch(`${url}/vendor/Patient`, { headers: { 'x-tollgate-token': INBOUND } })).arrayBuffer()
  await (await fetch(`${url}/vendor/Patient`, { headers: { 'x-tollgate-token': `${INBOUND}-wrong` } })).arrayBuffer()
  await close()
  const text = logs.text()
  const line = text.split('\n').find((candidate) => candidate.includes('request completed')) ?? ''
  t.assert.match(line, /INFO.*request completed/, 'level name and message on one line')
  t.assert.ok(!line.trimStart().startsWith('{'), 'not JSON')
  t.assert.match(text, /status: 200/, 'fields follow, one a line')
  t.assert.ok(!text.includes('\u001b['), 'no colour codes when not writing to a terminal')
  t.assert.ok(!text.includes(INBOUND), 'the censor runs before the prettifier')
})

test('TOLLGATE_LOG_FORMAT=pretty overrides log.format: json', async (t: TestContext) => {
  t.plan(1)
  const logs = await oneRequest(t, { format: 'json' }, { TOLLGATE_LOG_FORMAT: 'pretty' })
  t.assert.match(logs.text(), /INFO.*request completed/)
})

test('TOLLGATE_LOG_LEVEL overrides log.level, both ways', async (t: TestContext) => {
  t.plan(3)
  const quieter = await oneRequest(t, { level: 'trace' }, { TOLLGATE_LOG_LEVEL: 'warn' })
  t.assert.deepStrictEqual(quieter.entries().filter((entry) => (entry.level as number) < 40), [], 'nothing below warn')
  const louder = await oneRequest(t, { level: 'info' }, { TOLLGATE_LOG_LEVEL: 'debug' })
  t.assert.ok(louder.entries().some((entry) => entry.msg === 'upstream request' && entry.level === 20), 'debug lines')
  const unset = await oneRequest(t, { level: 'info' }, { TOLLGATE_LOG_LEVEL: '' })
  t.assert.ok(unset.entries().every((entry) => (entry.level as number) >= 30), 'an empty variable is unset')
})

test('a TOLLGATE_LOG_LEVEL or TOLLGATE_LOG_FORMAT that is not one is refused in one line naming it', async (t: TestContext) => {
  t.plan(4)
  const config = configOf({ upstreams: { vendor: { target: 'http://127.0.0.1:9' } } })
  const levelError = await buildServer(config, { logStream: logSink().stream, env: { TOLLGATE_LOG_LEVEL: 'loud' } }).then(() => undefined, (err: unknown) => err as Error)
  t.assert.match(String(levelError?.message), /^TOLLGATE_LOG_LEVEL: must be one of fatal, error, warn, info, debug, trace, silent/)
  t.assert.ok(!String(levelError?.stack).includes('\n'), 'one line, no stack')
  const formatError = await buildServer(config, { logStream: logSink().stream, env: { TOLLGATE_LOG_FORMAT: 'xml' } }).then(() => undefined, (err: unknown) => err as Error)
  t.assert.match(String(formatError?.message), /^TOLLGATE_LOG_FORMAT: must be json or pretty/)
  t.assert.ok(!String(formatError?.stack).includes('\n'), 'one line, no stack')
})

test('pretty without pino-pretty installed: the CLI exits 1 with one clear line', async (t: TestContext) => {
  t.plan(3)
  const dir = fixtureDir(t)
  // A module hook that makes pino-pretty unresolvable, as in an install without optional dependencies.
  const hooks = dir.write('hide-pino-pretty.mjs', `export async function resolve (specifier, context, next) {
  if (specifier === 'pino-pretty') throw Object.assign(new Error("Cannot find package 'pino-pretty'"), { code: 'ERR_MODULE_NOT_FOUND' })
  return next(specifier, context)
}
`)
  const register = dir.write('register.mjs', `import { register } from 'node:module'\nregister(${JSON.stringify(new URL(`file://${hooks}`).href)})\n`)
  const config = dir.write('tollgate.yaml', 'server: { port: 0 }\nlog: { format: pretty }\nupstreams: { vendor: { target: "http://127.0.0.1:9" } }\n')
  const child = spawn(process.execPath, ['--import', 'tsx', '--import', register, 'src/cli.ts', '--config', config], {
    cwd: REPO_ROOT,
    env: { ...process.env, TOLLGATE_CONFIG: '', TOLLGATE_LOG_FORMAT: '', TOLLGATE_LOG_LEVEL: '', NODE_NO_WARNINGS: '1' },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  t.after(() => { if (child.exitCode === null) child.kill('SIGKILL') })
  let stderr = ''
  let stdout = ''
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
  child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString() })
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve))
  t.assert.strictEqual(code, 1)
  t.assert.match(stderr, /^tollgate: (?:cannot start: )?log format "pretty" needs the optional package pino-pretty, which is not installed: npm install pino-pretty, or use log.format: json\n$/)
  t.assert.ok(!stdout.includes('listening'), 'it did not start')
})
