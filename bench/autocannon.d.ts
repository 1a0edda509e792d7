/** The part of autocannon 8's programmatic API the harness uses (the package ships no types). */
declare module 'autocannon' {
  import type { EventEmitter } from 'node:events'

  interface Options {
    url: string
    connections?: number
    duration?: number
    sampleInt?: number
    pipelining?: number
    timeout?: number
    method?: string
    headers?: Record<string, string>
    body?: string | Buffer
  }

  interface Result {
    errors: number
    timeouts: number
    non2xx: number
    resets: number
    statusCodeStats: Record<string, { count: number }>
  }

  interface Instance extends EventEmitter {
    on (event: 'response', listener: (client: unknown, statusCode: number, bytes: number, responseTimeMs: number) => void): this
    on (event: string, listener: (...args: unknown[]) => void): this
    stop (): void
  }

  function autocannon (options: Options, callback: (err: Error | null, result: Result) => void): Instance
  export default autocannon
}
