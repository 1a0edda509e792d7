/**
 * A stand-in OpenTelemetry collector for the tracing benchmark: answers every
 * OTLP/HTTP export 200 at once, reads nothing into memory, and says how many
 * exports and bytes it took when it is stopped (SIGINT / SIGTERM). Run it
 * beside `npm run bench` (docs/benchmarks.md, *Tracing*):
 *
 *   node --import tsx bench/otlp-sink.ts [--port 4318]
 */
import { createServer } from 'node:http'
import { parseArgs } from 'node:util'

const { values } = parseArgs({ options: { port: { type: 'string', default: '4318' } } })
let exports = 0
let bytes = 0
const server = createServer((req, res) => {
  req.on('data', (chunk: Buffer) => { bytes += chunk.length })
  req.on('end', () => {
    exports++
    // An empty ExportTraceServiceResponse: everything accepted.
    const json = req.headers['content-type']?.startsWith('application/json') === true
    res.writeHead(200, { 'content-type': json ? 'application/json' : 'application/x-protobuf' }).end(json ? '{}' : '')
  })
})
server.keepAliveTimeout = 60_000
server.listen(Number(values.port), '127.0.0.1', () => {
  process.stdout.write(`otlp-sink: listening on http://127.0.0.1:${values.port}\n`)
})
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    process.stdout.write(`otlp-sink: ${exports} exports, ${bytes} bytes\n`)
    server.close()
    server.closeAllConnections()
  })
}
