/**
 * Issue 19 part 5, from the command line: OTEL_EXPORTER_OTLP_PROTOCOL=grpc
 * stops the sidecar before it listens (exit 1), naming the variable, and
 * `check` says the same; `check --print` shows the telemetry the OTEL_*
 * variables make, each header value <redacted>.
 */
import { test, type TestContext } from 'node:test'
import { runCli } from '../helpers/cli-process.js'
import { fixtureDir } from '../helpers/fixtures.js'

const CONFIG = 'server:\n  port: 0\nupstreams:\n  vendor:\n    target: http://127.0.0.1:9\n'

test('OTEL_EXPORTER_OTLP_PROTOCOL=grpc is a config problem named by the variable: the sidecar does not start, check fails', async (t: TestContext) => {
  t.plan(5)
  const config = fixtureDir(t).write('tollgate.yaml', CONFIG)
  const env = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4317', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }
  const run = await runCli(t, ['--config', config], env)
  t.assert.strictEqual(run.code, 1)
  t.assert.match(run.stderr, /OTEL_EXPORTER_OTLP_PROTOCOL: grpc is not supported: tollgate exports OTLP over HTTP/)
  t.assert.ok(!run.stdout.includes('listening'), 'it never listened')
  const check = await runCli(t, ['check', config], env)
  t.assert.strictEqual(check.code, 1)
  t.assert.match(check.stderr, /OTEL_EXPORTER_OTLP_PROTOCOL: grpc is not supported/)
})

test('check --print shows the telemetry the OTEL_* variables make, header values <redacted>', async (t: TestContext) => {
  t.plan(4)
  const config = fixtureDir(t).write('tollgate.yaml', CONFIG)
  const check = await runCli(t, ['check', '--print', '--format', 'json', config], {
    OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318',
    OTEL_EXPORTER_OTLP_HEADERS: 'x-honeycomb-team=print-secret-team-key',
    OTEL_SERVICE_NAME: 'printed-sidecar'
  })
  t.assert.strictEqual(check.code, 0)
  const printed = JSON.parse(check.stdout) as { telemetry?: Record<string, unknown> }
  t.assert.deepStrictEqual([printed.telemetry?.endpoint, printed.telemetry?.serviceName], ['http://collector:4318', 'printed-sidecar'])
  t.assert.deepStrictEqual(printed.telemetry?.headers, { 'x-honeycomb-team': '<redacted>' })
  t.assert.ok(!check.stdout.includes('print-secret-team-key'))
})
