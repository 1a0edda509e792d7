import { test, type TestContext } from 'node:test'
import { createLogger, REDACTED, withLazyRequestLoggers } from '../../src/logger.js'
import { logSink } from '../helpers/log-sink.js'

test('a request logger makes its pino child only when something logs through it', (t: TestContext) => {
  const sink = logSink()
  const { logger } = createLogger({ level: 'info', secrets: [], stream: sink.stream })
  const fastifyLogger = withLazyRequestLoggers(logger)
  let children = 0
  const child = logger.child.bind(logger)
  logger.child = ((...args: Parameters<typeof child>) => { children++; return child(...args) }) as typeof logger.child

  // What Fastify does: a child of the root at startup, then one of that per request.
  const requestLog = fastifyLogger.child({}, {}).child({ requestId: 'req-1' }, {})
  t.assert.strictEqual(requestLog.level, 'info')
  t.assert.strictEqual(children, 0, 'no child for a request that logs nothing')

  requestLog.warn({ upstream: 'halaxy' }, 'first')
  requestLog.info('second')
  requestLog.debug('below the level')
  t.assert.strictEqual(children, 2, 'made on first use: the request\'s child and the startup one it hangs from')
  fastifyLogger.child({}, {}).child({ requestId: 'req-0' }, {})
  t.assert.strictEqual(children, 2, 'a request that logs nothing still makes none')
  const lines = sink.entries()
  t.assert.deepStrictEqual(lines.map((line) => [line.requestId, line.msg, line.level]), [['req-1', 'first', 40], ['req-1', 'second', 30]])
  t.assert.strictEqual(lines[0]?.upstream, 'halaxy')

  requestLog.level = 'debug'
  requestLog.debug('now shown')
  t.assert.strictEqual(sink.entries().at(-1)?.msg, 'now shown')
  t.assert.strictEqual(logger.level, 'info', 'the root logger keeps its level')

  fastifyLogger.info('through the root Fastify holds')
  t.assert.strictEqual(sink.entries().at(-1)?.msg, 'through the root Fastify holds')
  t.assert.strictEqual(sink.entries().at(-1)?.requestId, undefined)
})

test('the censor blanks a secret wherever it lands in a line, through a request logger too', (t: TestContext) => {
  const secret = 'canary-secret-value-1234'
  const sink = logSink()
  const { logger } = createLogger({ level: 'info', secrets: [secret], stream: sink.stream })
  withLazyRequestLoggers(logger).child({ requestId: 'req-2' }).warn({ detail: `token endpoint said ${secret}` }, 'oops')
  t.assert.ok(!sink.text().includes(secret))
  t.assert.strictEqual(sink.entries()[0]?.detail, `token endpoint said ${REDACTED}`)
})
