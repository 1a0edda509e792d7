import { test, type TestContext } from 'node:test'
import fc from 'fast-check'
import pino from 'pino'
import { DEBUG, formatRequestLine, INFO, type RequestLineFields } from '../../src/request-line.js'

/** What pino itself prints for these fields, at a fixed time, with tollgate's base. */
function pinoLine (level: number, time: number, fields: RequestLineFields): string {
  let out = ''
  const logger = pino({ level: 'trace', base: { service: 'tollgate' }, timestamp: () => `,"time":${time}` }, { write: (line: string) => { out += line } })
  if (level === INFO) logger.info(fields, 'request completed')
  else logger.debug(fields, 'request completed')
  return out
}

test('the hand-made request line is what pino prints for the same fields', (t: TestContext) => {
  const fields = fc.record({
    requestId: fc.string(),
    upstream: fc.option(fc.string(), { nil: undefined }),
    method: fc.string(),
    path: fc.string({ unit: 'binary' }),
    status: fc.integer({ min: 100, max: 599 }),
    durationMs: fc.double({ noNaN: true, noDefaultInfinity: true }),
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
