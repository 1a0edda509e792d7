/**
 * `telemetry` and the standard OTEL_* variables (issue 19 part 5): off
 * unless an endpoint is known; a variable wins over the file; a bad value is
 * a config problem named by its field or variable (grpc above all); header
 * values are secrets, blanked by the censor and by `check --print`.
 */
import { test, type TestContext } from 'node:test'
import { applyOverrides } from '../../src/cli/config-source.js'
import { printableConfig } from '../../src/cli/effective-config.js'
import { resolveConfig } from '../../src/config/load.js'
import { tracesUrl } from '../../src/config/telemetry.js'
import type { Config } from '../../src/config/types.js'

const upstreams = { vendor: { target: 'http://127.0.0.1:9' } }

/** The config file `raw`, then the environment over it, as the CLI does (at startup and at every reload). */
function effective (raw: Record<string, unknown>, env: NodeJS.ProcessEnv = {}): ReturnType<typeof applyOverrides> {
  const result = resolveConfig({ upstreams, ...raw }, { env: {} })
  if (result.issues !== undefined) throw new Error(JSON.stringify(result.issues))
  return applyOverrides(result.config, {}, env)
}

function fileIssues (telemetry: unknown): Array<{ path: string, message: string }> {
  return resolveConfig({ upstreams, telemetry }, { env: {} }).issues ?? []
}

test('off unless an endpoint is set: no section, or a section without one', (t: TestContext) => {
  t.plan(3)
  t.assert.strictEqual(effective({}).config.telemetry, undefined)
  t.assert.strictEqual(tracesUrl(effective({}).config.telemetry), undefined)
  t.assert.strictEqual(tracesUrl(effective({ telemetry: { serviceName: 'billing-sidecar' } }).config.telemetry), undefined, 'a name is no endpoint')
})

test('the file alone: defaults filled, spans to <endpoint>/v1/traces, header values are secrets', (t: TestContext) => {
  t.plan(3)
  const { config } = effective({ telemetry: { endpoint: 'http://collector:4318/', headers: { 'X-Api-Key': 'file-collector-key' } } })
  t.assert.deepStrictEqual(config.telemetry, {
    endpoint: 'http://collector:4318/',
    protocol: 'http/protobuf',
    headers: { 'x-api-key': 'file-collector-key' },
    serviceName: 'tollgate',
    resourceAttributes: {},
    sampler: 'parentbased_always_on'
  })
  t.assert.strictEqual(tracesUrl(config.telemetry), 'http://collector:4318/v1/traces')
  t.assert.ok(config.secrets.includes('file-collector-key'))
})

test('OTEL_* variables win over the file, field by field, and say so', (t: TestContext) => {
  t.plan(4)
  const { config, applied, issues } = effective({
    telemetry: { endpoint: 'http://file:4318', tracesEndpoint: 'http://file:4318/custom', protocol: 'http/json', serviceName: 'from-file', headers: { 'x-team': 'file-team', 'x-key': 'file-key' }, sampler: 'always_on' }
  }, {
    OTEL_EXPORTER_OTLP_ENDPOINT: 'http://env:4318',
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
    OTEL_EXPORTER_OTLP_HEADERS: 'x-key=env%20key,x-extra=1',
    OTEL_SERVICE_NAME: 'from-env',
    OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment=prod,service.name=ignored-for-OTEL_SERVICE_NAME',
    OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
    OTEL_TRACES_SAMPLER_ARG: '0.25',
    OTEL_BSP_SCHEDULE_DELAY: '', // unrelated, and empty: unset
    OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: ''
  })
  t.assert.deepStrictEqual(issues, [])
  t.assert.deepStrictEqual(config.telemetry, {
    endpoint: 'http://env:4318',
    protocol: 'http/protobuf',
    headers: { 'x-team': 'file-team', 'x-key': 'env key', 'x-extra': '1' },
    serviceName: 'from-env',
    resourceAttributes: { 'deployment.environment': 'prod' },
    sampler: 'parentbased_traceidratio',
    samplerArg: 0.25
  })
  // The generic endpoint variable replaces the file's exact traces URL too.
  t.assert.strictEqual(tracesUrl(config.telemetry), 'http://env:4318/v1/traces')
  t.assert.ok(applied.includes('telemetry.endpoint from OTEL_EXPORTER_OTLP_ENDPOINT') && applied.includes('telemetry.serviceName from OTEL_SERVICE_NAME') && config.secrets.includes('env key'))
})

test('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is used as it is and wins over OTEL_EXPORTER_OTLP_ENDPOINT; it alone turns tracing on', (t: TestContext) => {
  t.plan(2)
  const { config } = effective({}, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://generic:4318', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://traces.example/api/spans' })
  t.assert.strictEqual(tracesUrl(config.telemetry), 'https://traces.example/api/spans')
  t.assert.strictEqual(config.telemetry?.serviceName, 'tollgate', 'OTEL_SERVICE_NAME unset: tollgate')
})

test('OTEL_SDK_DISABLED=true turns tracing off whatever else says', (t: TestContext) => {
  t.plan(2)
  const { config, applied } = effective({ telemetry: { endpoint: 'http://file:4318' } }, { OTEL_SDK_DISABLED: 'true', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://env:4318' })
  t.assert.strictEqual(config.telemetry, undefined)
  t.assert.deepStrictEqual(applied, ['telemetry from OTEL_SDK_DISABLED'])
})

test('grpc is a config problem named by the variable or the field that asks for it', (t: TestContext) => {
  t.plan(4)
  const fromEnv = effective({}, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://env:4317', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }).issues
  t.assert.deepStrictEqual(fromEnv.map((issue) => issue.path), ['OTEL_EXPORTER_OTLP_PROTOCOL'])
  t.assert.match(fromEnv[0]?.message ?? '', /^grpc is not supported: .*http\/protobuf.*http\/json/)
  const traces = effective({}, { OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'grpc' }).issues
  t.assert.deepStrictEqual(traces.map((issue) => issue.path), ['OTEL_EXPORTER_OTLP_TRACES_PROTOCOL'])
  t.assert.deepStrictEqual(fileIssues({ endpoint: 'http://c:4317', protocol: 'grpc' }).map((issue) => issue.path), ['telemetry.protocol'])
})

test('every other bad value is a problem named by its path, never quoting a header value', (t: TestContext) => {
  t.plan(4)
  const { issues } = effective({}, {
    OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318',
    OTEL_EXPORTER_OTLP_HEADERS: 'x-key:very-secret-header-value',
    OTEL_RESOURCE_ATTRIBUTES: 'no-equals-sign',
    OTEL_TRACES_SAMPLER: 'jaeger_remote',
    OTEL_TRACES_SAMPLER_ARG: '1.5'
  })
  t.assert.deepStrictEqual(issues.map((issue) => issue.path), ['OTEL_EXPORTER_OTLP_ENDPOINT', 'OTEL_EXPORTER_OTLP_HEADERS', 'OTEL_RESOURCE_ATTRIBUTES', 'OTEL_TRACES_SAMPLER', 'OTEL_TRACES_SAMPLER_ARG'])
  t.assert.ok(issues.every((issue) => !issue.message.includes('very-secret-header-value')))
  t.assert.deepStrictEqual(fileIssues({ endpoint: 'ftp://c', sampler: 'sometimes', samplerArg: -1, headers: { 'x-key': 'a\nb' } }).map((issue) => issue.path).sort(),
    ['telemetry.endpoint', 'telemetry.headers.x-key', 'telemetry.sampler', 'telemetry.samplerArg'])
  t.assert.deepStrictEqual(fileIssues({ color: 'blue', headers: { 'bad name': 'x' } }).map((issue) => issue.path).sort(), ['telemetry.color', 'telemetry.headers.bad name'])
})

test('check --print shows the telemetry in force with every header value <redacted>', (t: TestContext) => {
  t.plan(3)
  const { config } = effective({ telemetry: { endpoint: 'http://file:4318', headers: { 'x-honeycomb-team': 'file-team-key-1234' } } }, { OTEL_EXPORTER_OTLP_HEADERS: 'x-other=env-secret-5678' })
  const printed = printableConfig(config as Config) as { telemetry: { headers: Record<string, string> } }
  t.assert.deepStrictEqual(printed.telemetry.headers, { 'x-honeycomb-team': '<redacted>', 'x-other': '<redacted>' })
  const text = JSON.stringify(printed)
  t.assert.ok(!text.includes('file-team-key-1234') && !text.includes('env-secret-5678'))
  // What is printed is a config the file accepts.
  t.assert.strictEqual(resolveConfig(printed, { env: {} }).issues, undefined)
})
