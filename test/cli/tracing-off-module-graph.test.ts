/**
 * Issue 19 part 7: with tracing off, tollgate loads no `@opentelemetry/*`
 * module, not at startup and not for a proxied request. The CLI runs with a
 * module recorder preloaded (test/helpers/module-recorder.mjs: every ES
 * module resolved and who imported it, every CommonJS module in the require
 * cache at exit and, for @opentelemetry files, who required them).
 *
 * Not even the no-op API: prom-client 15 requires @opentelemetry/api when its
 * index is loaded (lib/metrics/processCpuTotal.js, for exemplars tollgate does
 * not enable); tollgate loads prom-client's classes by module and counts
 * process CPU itself (src/ops/prom-client.ts, src/ops/process-metrics.ts).
 *
 * The same run with OTEL_EXPORTER_OTLP_ENDPOINT set is the control: the SDK
 * is loaded then, and the request's spans reach the collector.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { pathToFileURL } from 'node:url'
import { REPO_ROOT, startCli } from '../helpers/cli-process.js'
import { fixtureDir } from '../helpers/fixtures.js'
import { startOrigin } from '../helpers/origin.js'
import { startOtlpReceiver } from '../helpers/otlp-receiver.js'

const RECORDER = pathToFileURL(join(REPO_ROOT, 'test/helpers/module-recorder.mjs')).href

/** Every standard variable that could turn tracing on, unset: the test's own environment must not decide. */
const NO_OTEL: NodeJS.ProcessEnv = { OTEL_EXPORTER_OTLP_ENDPOINT: undefined, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: undefined, OTEL_SDK_DISABLED: undefined, OTEL_EXPORTER_OTLP_PROTOCOL: undefined, OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: undefined }

/** Run the sidecar, send one request through it, stop it: the modules it loaded, and its stdout. */
async function run (t: TestContext, env: NodeJS.ProcessEnv): Promise<{ modules: string[], stdout: string, code: number | null }> {
  const origin = await startOrigin(t, (req, res) => {
    req.resume()
    res.end('ok')
  })
  const dir = fixtureDir(t)
  const config = dir.write('tollgate.yaml', `server:\n  port: 0\nupstreams:\n  vendor:\n    target: ${origin.url}\n    auth: { type: static_bearer, token: module-graph-token }\n`)
  const log = join(dir.dir, 'modules.log')
  const cli = startCli(t, ['--config', config], { ...NO_OTEL, ...env, TOLLGATE_MODULE_LOG: log, NODE_OPTIONS: `--import=${RECORDER}` })
  const [, port] = await cli.waitForStdout(/listening at http:\/\/127\.0\.0\.1:(\d+)/)
  const res = await fetch(`http://127.0.0.1:${port}/vendor/Patient?name=x`, { headers: { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' } })
  t.assert.strictEqual(res.status, 200)
  await res.text()
  cli.child.kill('SIGTERM')
  let timer: NodeJS.Timeout | undefined
  const { code } = await Promise.race([
    cli.exited,
    new Promise<never>((_resolve, reject) => { timer = setTimeout(() => reject(new Error('the sidecar did not exit within 10 s of SIGTERM')), 10_000) })
  ]).finally(() => clearTimeout(timer))
  return { modules: readFileSync(log, 'utf8').split('\n').filter((line) => line !== ''), stdout: cli.stdout(), code }
}

const OTEL = '/node_modules/@opentelemetry/'

/** `@opentelemetry/api` from a path inside node_modules. */
function otelPackage (path: string): string {
  return path.slice(path.indexOf(OTEL) + '/node_modules/'.length).split('/').slice(0, 2).join('/')
}

/** `prom-client/lib/x.js` from a path inside node_modules (the last node_modules). */
function fromNodeModules (path: string): string {
  return path.slice(path.lastIndexOf('/node_modules/') + '/node_modules/'.length)
}

test('tracing off: tollgate loads no @opentelemetry module, by startup or by a request', async (t: TestContext) => {
  t.plan(8)
  const { modules, code, stdout } = await run(t, {})
  t.assert.strictEqual(code, 0)
  // The recorder saw what was loaded, both kinds (else an empty list would pass).
  t.assert.ok(modules.some((line) => line.startsWith('esm ') && line.includes('/src/proxy/exchange.ts')), 'ES modules recorded')
  t.assert.ok(modules.some((line) => line.startsWith('cjs ') && line.includes('/node_modules/fastify/')), 'CommonJS modules recorded')
  // No ES import of any OpenTelemetry package (tollgate's own imports are ES: src/telemetry would show here).
  t.assert.deepStrictEqual(modules.filter((line) => line.startsWith('esm ') && line.includes(OTEL)), [])
  // Nor a CommonJS one, and nobody required one.
  const packages = new Set(modules.filter((line) => line.startsWith('cjs ') && line.includes(OTEL)).map((line) => otelPackage(line)))
  t.assert.deepStrictEqual([...packages], [])
  const requirers = new Set(modules.filter((line) => line.startsWith('req ')).map((line) => fromNodeModules(line.split(' ')[2] ?? '')))
  t.assert.deepStrictEqual([...requirers], [])
  t.assert.ok(!stdout.includes('"traceId"'), 'no trace ids in the log when off')
})

test('control, tracing on by OTEL_EXPORTER_OTLP_ENDPOINT: the SDK is loaded and the request is traced', async (t: TestContext) => {
  t.plan(7)
  const receiver = await startOtlpReceiver(t)
  const { modules, code, stdout } = await run(t, { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_SERVICE_NAME: 'module-graph-sidecar' })
  t.assert.strictEqual(code, 0)
  t.assert.ok(modules.some((line) => line.startsWith('esm ') && line.includes('/node_modules/@opentelemetry/sdk-trace-base/') && line.includes('/src/telemetry/otel.ts')), 'the SDK was imported, by src/telemetry/otel.ts')
  // Shutdown exported what the request left: its SERVER and CLIENT spans.
  const spans = await receiver.waitForSpans(2)
  t.assert.deepStrictEqual(spans.map((span) => span.traceId), ['4bf92f3577b34da6a3ce929d0e0e4736', '4bf92f3577b34da6a3ce929d0e0e4736'])
  t.assert.strictEqual(spans[0]?.resource['service.name'], 'module-graph-sidecar')
  t.assert.match(stdout, /"overrides":\[[^\]]*"telemetry\.endpoint from OTEL_EXPORTER_OTLP_ENDPOINT"/)
  t.assert.match(stdout, /"traceId":"4bf92f3577b34da6a3ce929d0e0e4736"[^\n]*"msg":"request completed"/)
})
