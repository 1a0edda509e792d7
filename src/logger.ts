/**
 * pino, JSON on stdout. Secrets are kept out by structure first (we never log
 * a config, a token response or outgoing headers) and by a censor second:
 * every configured secret value is replaced in each line before it is written.
 * `log.format: pretty` (or TOLLGATE_LOG_FORMAT=pretty) renders the censored
 * lines for a person through pino-pretty, loaded only then.
 */
import pino, { type Bindings, type ChildLoggerOptions, type DestinationStream, type Level, type Logger } from 'pino'
import { logDestination } from './log-destination.js'

export const REDACTED = '[redacted]'

export type LogFormat = 'json' | 'pretty'

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const

export interface LoggerOptions {
  readonly level: string
  readonly secrets: readonly string[]
  /** Where lines go; stdout by default. Tests pass a sink. */
  readonly stream?: DestinationStream
  /** Renders each (already censored) JSON line for a person; see openLogger. */
  readonly prettify?: (line: string) => string
}

/** The logger, and a way to add secrets to its censor (after a rotation, the new ones). */
export interface RedactingLogger {
  readonly logger: Logger
  addSecrets (secrets: readonly string[]): void
}

export interface LogSetup {
  /** The config's `log` section. */
  readonly level: string
  readonly format: LogFormat
  readonly secrets: readonly string[]
  readonly stream?: DestinationStream | undefined
  /** Where TOLLGATE_LOG_LEVEL and TOLLGATE_LOG_FORMAT are read; an empty value is unset. */
  readonly env: NodeJS.ProcessEnv
}

/**
 * A setup problem the operator must fix (a bad TOLLGATE_LOG_* value, pino-pretty
 * missing): its stack is its message, so whoever prints the stack prints one line.
 */
export class LogSetupError extends Error {
  constructor (message: string) {
    super(message)
    this.name = 'LogSetupError'
    this.stack = message
  }
}

/**
 * The logger the sidecar runs with: the config's level and format, each
 * overridden by TOLLGATE_LOG_LEVEL / TOLLGATE_LOG_FORMAT when set.
 *
 * @throws LogSetupError for a value that is not a level or a format, or when
 *   pretty is asked for and pino-pretty is not installed.
 */
export async function openLogger (setup: LogSetup): Promise<RedactingLogger> {
  const level = fromEnv(setup.env, 'TOLLGATE_LOG_LEVEL', LOG_LEVELS) ?? setup.level
  const format = fromEnv(setup.env, 'TOLLGATE_LOG_FORMAT', ['json', 'pretty'] as const) ?? setup.format
  // Colours only for a terminal: a file or a log collector gets plain text.
  const prettify = format === 'pretty' ? await loadPrettifier(setup.stream === undefined && process.stdout.isTTY) : undefined
  return createLogger({
    level,
    secrets: setup.secrets,
    ...(setup.stream === undefined ? {} : { stream: setup.stream }),
    ...(prettify === undefined ? {} : { prettify })
  })
}

function fromEnv<T extends string> (env: NodeJS.ProcessEnv, name: string, allowed: readonly T[]): T | undefined {
  const value = env[name]
  if (value === undefined || value === '') return undefined
  if ((allowed as readonly string[]).includes(value)) return value as T
  const choices = allowed.length === 2 ? allowed.join(' or ') : `one of ${allowed.join(', ')}`
  throw new LogSetupError(`${name}: must be ${choices}, not ${JSON.stringify(value.slice(0, 40))}`)
}

type PrettyFactory = (options: Record<string, unknown>) => (line: string) => string

/**
 * pino-pretty's synchronous formatter: lines keep their order and their
 * batching (log-destination.ts), and what is buffered at exit is still written.
 * Imported by a name held in a variable so that a build without the optional
 * package still compiles, and a JSON-logging sidecar never loads it.
 */
async function loadPrettifier (colorize: boolean): Promise<(line: string) => string> {
  const name = 'pino-pretty'
  let module: { prettyFactory?: PrettyFactory }
  try {
    module = await import(name) as { prettyFactory?: PrettyFactory }
  } catch (err) {
    const code = (err as { code?: unknown }).code
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') {
      throw new LogSetupError('log format "pretty" needs the optional package pino-pretty, which is not installed: npm install pino-pretty, or use log.format: json')
    }
    throw new LogSetupError(`log format "pretty": pino-pretty could not be loaded (${typeof code === 'string' ? code : (err as Error).name})`)
  }
  if (typeof module.prettyFactory !== 'function') throw new LogSetupError('log format "pretty": the installed pino-pretty has no prettyFactory (pino-pretty 10 or later is needed)')
  return module.prettyFactory({ colorize, translateTime: 'SYS:yyyy-mm-dd HH:MM:ss.l', ignore: 'service' })
}

export function createLogger (options: LoggerOptions): RedactingLogger {
  let censor = createCensor(options.secrets)
  let known = [...options.secrets]
  const raw = options.stream ?? logDestination(1)
  const destination = options.prettify === undefined ? raw : new PrettyDestination(raw, options.prettify)
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

/** What stands for a query value in a logged URL. */
export const REDACTED_VALUE = 'REDACTED'

/**
 * A query string (without its `?`) with every value replaced by REDACTED and
 * the names kept as sent: queries carry patient data (`family=Smith`), names
 * say what was asked. A part without `=` is a name.
 */
export function redactQuery (query: string): string {
  let out = ''
  let start = 0
  while (start <= query.length) {
    let end = query.indexOf('&', start)
    if (end === -1) end = query.length
    const part = query.slice(start, end)
    const equals = part.indexOf('=')
    out += (start === 0 ? '' : '&') + (equals === -1 ? part : `${part.slice(0, equals)}=${REDACTED_VALUE}`)
    start = end + 1
  }
  return out
}

/**
 * What a request to the vendor is logged and traced as: `origin` + `path` and
 * the query of `appUrl` (the app's request target, sent on byte for byte),
 * every query value REDACTED.
 */
export function outgoingUrl (origin: string, path: string, appUrl: string): string {
  const query = appUrl.indexOf('?')
  return `${origin}${path}${query === -1 ? '' : `?${redactQuery(appUrl.slice(query + 1))}`}`
}

/** A URL for a log line: no user or password, no fragment, query values REDACTED. */
export function loggableUrl (url: string): string {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    return '(not a URL)'
  }
  const query = parsed.search.slice(1)
  parsed.username = ''
  parsed.password = ''
  parsed.hash = ''
  parsed.search = ''
  return query === '' ? parsed.href : `${parsed.href}?${redactQuery(query)}`
}

type Flushable = DestinationStream & { flush?: (callback?: (err?: Error) => void) => void, flushSync?: () => void }

/** Each censored line rendered for a person, then written where the JSON line would have gone (flushes passed on). */
class PrettyDestination implements DestinationStream {
  readonly #dest: Flushable
  readonly #prettify: (line: string) => string

  constructor (dest: DestinationStream, prettify: (line: string) => string) {
    this.#dest = dest
    this.#prettify = prettify
  }

  write (line: string): void {
    this.#dest.write(this.#prettify(line))
  }

  flush (callback?: (err?: Error) => void): void {
    if (this.#dest.flush === undefined) callback?.()
    else this.#dest.flush(callback)
  }

  flushSync (): void {
    this.#dest.flushSync?.()
  }
}

type LogMethod = (...args: unknown[]) => void

/** The message of reply-from's `request.log.warn(err, 'response errored')` (@fastify/reply-from index.js). */
const REPLY_FROM_ERRORED = 'response errored'

/**
 * The root logger as Fastify gets it (`loggerInstance`): its child() makes a
 * request logger that builds pino's child (with the requestId binding) only
 * when something logs through `request.log`, a warning or an error. The one
 * line per request is written through the root logger with the request id as
 * a field (server.ts), so most requests never make a child; Fastify has pino
 * build one for every request, bindings serialised and level methods bound:
 * about 11 % of a proxied request's instructions (callgrind, docs/benchmarks.md,
 * *The hot path on public APIs*). Overriding child() on the root rather than
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
  // @fastify/reply-from logs every failed upstream request with its stack (and no upstream) before
  // handing the error to our onError; the problem handler's one line says it all (src/problem.ts).
  warn (...args: unknown[]): void { if (args[1] !== REPLY_FROM_ERRORED) this.#log('warn', args) }
  info (...args: unknown[]): void { this.#log('info', args) }
  debug (...args: unknown[]): void { this.#log('debug', args) }
  trace (...args: unknown[]): void { this.#log('trace', args) }

  #log (level: Level, args: unknown[]): void {
    (this.#logger[level] as LogMethod)(...args)
  }
}
