/** Captures every log line the sidecar writes (pino test/helper.js sink()). */
import { Writable } from 'node:stream'

export interface LogSink {
  readonly stream: Writable
  /** Everything written so far, as one string. */
  text (): string
  /** Every line parsed as JSON. */
  entries (): Array<Record<string, unknown>>
}

export function logSink (): LogSink {
  const chunks: string[] = []
  const stream = new Writable({
    write (chunk: Buffer, _encoding, callback) {
      chunks.push(chunk.toString())
      callback()
    }
  })
  return {
    stream,
    text: () => chunks.join(''),
    entries: () => chunks.join('').split('\n').filter((line) => line !== '').map((line) => JSON.parse(line) as Record<string, unknown>)
  }
}
