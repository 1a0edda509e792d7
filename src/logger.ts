/**
 * pino, JSON on stdout. Secrets are kept out by structure first (we never log
 * a config, a token response or outgoing headers) and by a censor second:
 * every configured secret value is replaced in each line before it is written.
 */
import pino, { type Bindings, type ChildLoggerOptions, type DestinationStream, type Level, type Logger } from 'pino'
import { logDestination } from './log-destination.js'

export const REDACTED = '[redacted]'

export interface LoggerOptions {
  readonly level: string
  readonly secrets: readonly string[]
  /** Where lines go; stdout by default. Tests pass a sink. */
  readonly stream?: DestinationStream
}

/** The logger, and a way to add secrets to its censor (after a rotation, the new ones). */
export interface RedactingLogger {
  readonly logger: Logger
  addSecrets (secrets: readonly string[]): void
  /** A line serialised elsewhere (src/request-line.ts), written through the same censor and destination. */
  writeLine (line: string): void
}

export function createLogger (options: LoggerOptions): RedactingLogger {
  let censor = createCensor(options.secrets)
  let known = [...options.secrets]
  const destination = options.stream ?? logDestination(1)
  const logger = pino({
    level: options.level,
    base: { service: 'tollgate' },
    redact: {
      // Exact paths only: a wildcard makes pino run its slow redactor on every line
      // (measured 10-18 µs per request); secret values are blanked by the censor below.
      paths: ['req.headers.authorization', 'headers.authorization', 'clientSecret', 'privateKey', 'token', 'access_token', 'client_assertion', 'inboundToken'],
      censor: REDACTED
    },
    // Always installed (it is one closure call per line) so rotated secrets can join it later.
    hooks: { streamWrite: (line) => censor === undefined ? line : censor(line) }
  }, destination)
  return {
    logger,
    writeLine (line) { destination.write(censor === undefined ? line : censor(line)) },
    addSecrets (secrets) {
      known = [...new Set([...known, ...secrets])]
      censor = createCensor(known)
    }
  }
}

/**
 * A function that blanks every secret in a serialised log line, or undefined
 * when there is nothing to hide (then the hook costs nothing). Each secret is
 * also matched in its JSON-escaped form (a PEM key holds newlines).
 */
export function createCensor (secrets: readonly string[]): ((line: string) => string) | undefined {
  const needles = [...new Set(secrets.flatMap((secret) => [secret, JSON.stringify(secret).slice(1, -1)]))]
    .filter((needle) => needle.length >= 4)
    .sort((a, b) => b.length - a.length)
  if (needles.length === 0) return undefined
  return function censor (line) {
    for (let i = 0; i < needles.length; i++) {
      const needle = needles[i] as string
      if (line.includes(needle)) line = line.split(needle).join(REDACTED)
    }
    return line
  }
}

export { logDestination } from './log-destination.js'

type LogMethod = (...args: unknown[]) => void

/**
 * The root logger as Fastify gets it (`loggerInstance`): its child() makes a
 * request logger that builds pino's child (with the requestId binding) only
 * when something logs through `request.log`, a warning or an error. The one
 * line per request does not go through it (src/request-line.ts), so most
 * requests never make a child; pino builds one eagerly, bindings serialised
 * (about 1 µs per request). Overriding child() on the root rather than
 * passing Fastify a childLoggerFactory spares Fastify's per-request check of
 * a custom factory's result.
 */
export function withLazyRequestLoggers (logger: Logger): Logger {
  const root = Object.create(logger) as Logger
  const child = (bindings: Bindings, options?: ChildLoggerOptions): unknown => new RequestLogger(logger, bindings, options ?? {})
  root.child = child as Logger['child']
  return root
}

/**
 * Fastify also wraps the root it is given in a child of its own at startup,
 * so a request logger's parent may be another lazy one: children of a lazy
 * logger are lazy too, and each pino child is made once, on first use.
 */
class RequestLogger {
  readonly #parent: Logger | RequestLogger
  readonly #bindings: Bindings
  readonly #options: ChildLoggerOptions
  #child: Logger | undefined

  constructor (parent: Logger | RequestLogger, bindings: Bindings, options: ChildLoggerOptions) {
    this.#parent = parent
    this.#bindings = bindings
    this.#options = options
  }

  get #logger (): Logger {
    this.#child ??= (this.#parent instanceof RequestLogger ? this.#parent.#logger : this.#parent).child(this.#bindings, this.#options)
    return this.#child
  }

  get level (): string { return this.#child?.level ?? this.#options.level ?? this.#parent.level }
  set level (level: string) { this.#logger.level = level }
  isLevelEnabled (level: string): boolean { return this.#logger.isLevelEnabled(level) }
  child (bindings: Bindings, options?: ChildLoggerOptions): Logger { return new RequestLogger(this, bindings, options ?? {}) as unknown as Logger }
  silent (): void {}

  fatal (...args: unknown[]): void { this.#log('fatal', args) }
  error (...args: unknown[]): void { this.#log('error', args) }
  warn (...args: unknown[]): void { this.#log('warn', args) }
  info (...args: unknown[]): void { this.#log('info', args) }
  debug (...args: unknown[]): void { this.#log('debug', args) }
  trace (...args: unknown[]): void { this.#log('trace', args) }

  #log (level: Level, args: unknown[]): void {
    (this.#logger[level] as LogMethod)(...args)
  }
}
