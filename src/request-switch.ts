/**
 * The app-facing HTTP server with a replaceable request handler. Fastify
 * refuses routes added after `listen`, so the set of upstreams changes by
 * building another Fastify instance on the same server (its serverFactory
 * hands back this server), making it ready, and switching new requests to
 * its handler in one assignment: a request is handled start to end by the
 * instance that took it, and in-flight ones finish where they began.
 */
import { createServer, type IncomingMessage, type Server, type ServerOptions, type ServerResponse } from 'node:http'

export type RequestHandler = (req: IncomingMessage, res: ServerResponse) => void

/** The Fastify options serverFactory reads, as Fastify's own server creation applies them (lib/server.js). */
interface FactoryOptions {
  readonly http?: ServerOptions
  readonly keepAliveTimeout?: number
  readonly requestTimeout?: number
  readonly connectionTimeout?: number
}

export class RequestSwitch {
  readonly server: Server
  #current: RequestHandler

  constructor (handler: RequestHandler, options: FactoryOptions) {
    this.#current = handler
    this.server = createServer(options.http ?? {}, (req, res) => { this.#current(req, res) })
    if (options.keepAliveTimeout !== undefined) this.server.keepAliveTimeout = options.keepAliveTimeout
    if (options.requestTimeout !== undefined) this.server.requestTimeout = options.requestTimeout
    if (options.connectionTimeout !== undefined) this.server.setTimeout(options.connectionTimeout)
  }

  /** New requests go to `handler` from now on. */
  use (handler: RequestHandler): void {
    this.#current = handler
  }
}
