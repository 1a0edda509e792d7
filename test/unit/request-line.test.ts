import { test, type TestContext } from 'node:test'
import fc from 'fast-check'
import pino from 'pino'
import { DEBUG, formatRequestLine, hundredths, INFO, type RequestLineFields } from '../../src/request-line.js'

/** What pino itself prints for these fields, at a fixed time, with tollgate's base. */
function pinoLine (level: number, time: number, fields: RequestLineFields): string {
  let out = ''
  const logger = pino({ level: 'trace', base: { service: 'tollgate' }, timestamp: () => `,"time":${time}` }, { write: (line: string) => { out += line } })
  if (level === INFO) logger.info(fields, 'request completed')
  else logger.debug(fields, 'request completed')
  return out
}

test('the hand-made request line is what pino prints for the same fields', (t: TestContext) => {
  // What the sidecar hands it: ids validRequestId() accepts (or uuids), token-character methods, ms in hundredths.
  const idChars = fc.constantFrom(...'ABCXYZabcxyz0189._:@/+=-')
  const ms = fc.integer({ min: 0, max: 10_000_000 }).map((cents) => cents / 100)
  const fields = fc.record({
    requestId: fc.string({ unit: idChars, minLength: 1, maxLength: 128 }),
    upstream: fc.option(fc.string(), { nil: undefined }),
    method: fc.string({ unit: fc.constantFrom(...'ACDEGHILMNOPRSTU!#$%&\'*+-.^_`|~09'), minLength: 1, maxLength: 12 }),
    path: fc.string({ unit: 'binary' }),
    status: fc.integer({ min: 100, max: 599 }),
    durationMs: ms,
    attempts: fc.option(fc.nat(), { nil: undefined }),
    waitedMs: fc.option(fc.nat(), { nil: undefined })
  })
  fc.assert(fc.property(fc.constantFrom(INFO, DEBUG), fc.nat(), fields, (level, time, entry) => {
    const ours = formatRequestLine(level, time, entry)
    t.assert.ok(ours.endsWith('}\n') && !ours.slice(0, -1).includes('\n'), 'one line')
    t.assert.deepStrictEqual(JSON.parse(ours), JSON.parse(pinoLine(level, time, entry)))
  }), { numRuns: 300 })
})

test('an everyday request line is byte for byte pino\'s', (t: TestContext) => {
  const entry = { requestId: '2d635116-85ff-4572-9e44-31a10e031928', upstream: 'halaxy', method: 'GET', path: '/halaxy/Patient', status: 200, durationMs: 1.23, attempts: 1, waitedMs: 0 }
  t.assert.strictEqual(formatRequestLine(INFO, 1795397225920, entry), pinoLine(INFO, 1795397225920, entry))
  const probe = { ...entry, upstream: undefined, path: '/healthz', attempts: undefined, waitedMs: undefined }
  t.assert.strictEqual(formatRequestLine(DEBUG, 1795397225920, probe), pinoLine(DEBUG, 1795397225920, probe))
})

test('hundredths: the shortest JSON for a value rounded to two decimals', (t: TestContext) => {
  for (const [value, text] of [[0, '0'], [1.5, '1.5'], [1.05, '1.05'], [1.23, '1.23'], [12.3, '12.3'], [0.004, '0'], [0.005, '0.01'], [-0.25, '-0.25'], [1e300, '1e+300'], [Number.NaN, 'null']] as const) {
    t.assert.strictEqual(hundredths(value), text, String(value))
  }
  fc.assert(fc.property(fc.double({ min: -1e12, max: 1e12, noNaN: true }), (value) => {
    t.assert.strictEqual(JSON.parse(hundredths(value)), Math.round(value * 100) / 100 || 0)
  }), { numRuns: 2000 })
})
