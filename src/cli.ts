#!/usr/bin/env node
/**
 * argv → a command of the table below (run | demo | check | doctor | keygen
 * | sandbox | help). The only file that calls process.exit: 0 done, 1 a
 * config problem or a runtime failure, 2 a usage error (docs/cli.md).
 *
 * A new command is one entry in COMMANDS (its flags, its arguments, its
 * usage lines and its run function) plus its flags in OPTIONS: the parser
 * refuses every flag a command does not list, and the usage text is built
 * from the table.
 */
import { parseCommandLine, type OptionSpec, type Values } from './cli/args.js'
import { applyOverrides, configSource, parsePort, type ConfigFrom, type FlagOverrides } from './cli/config-source.js'
import type { PrintFormat } from './cli/effective-config.js'
import { describeStartFailure, type PortSources } from './cli/start-failure.js'
import { packageVersion } from './cli/version.js'
import { formatIssues } from './config/issues.js'
import { loadConfigFile, type Interpolated } from './config/load.js'
import type { Config } from './config/types.js'

interface CommandArgs {
  readonly values: Values
  readonly positionals: readonly string[]
}

interface Command {
  /** Usage lines: the synopsis (after `tollgate `) and what it does. */
  readonly usage: ReadonlyArray<readonly [string, string]>
  /** Flags it takes, by name in OPTIONS. */
  readonly options: readonly string[]
  /** Arguments after its name: how many at most (Infinity: the command checks them). */
  readonly positionals: number
  run (args: CommandArgs): Promise<number>
}

/** Every flag, with one meaning whichever command takes it. */
const OPTIONS: Readonly<Record<string, OptionSpec>> = {
  config: { type: 'string', short: 'c', value: 'FILE' },
  port: { type: 'string', short: 'p', value: 'N' },
  print: { type: 'boolean' },
  format: { type: 'string', value: 'yaml|json' },
  kid: { type: 'string', value: 'ID' },
  alg: { type: 'string', value: 'ALG' },
  out: { type: 'string', value: 'DIR' },
  'redox-jwks': { type: 'string', value: 'FILE' },
  'redox-client-id': { type: 'string', value: 'ID' }
}

/** The command when none is named: the sidecar (or, with no config, the demo). */
const DEFAULT_COMMAND = 'run'

const COMMANDS: Readonly<Record<string, Command>> = {
  run: {
    usage: [
      ['--config FILE [--port N]', 'run the sidecar (TOLLGATE_CONFIG=FILE works too);\n--port N wins over server.port'],
      ['[--port N]', 'no config: the demo (below), not under NODE_ENV=production']
    ],
    options: ['config', 'port'],
    positionals: 0,
    run: runSidecar
  },
  demo: {
    usage: [['demo [--port N]', 'the sandbox vendors and the sidecar in front of them, on\nloopback (port 8080, or --port N), with curl lines to try;\nruns whatever NODE_ENV says']],
    options: ['port'],
    positionals: 0,
    run: async ({ values }) => await runDemo(values, 'demo')
  },
  check: {
    usage: [['check --config FILE [--print [--format yaml|json]]', 'validate a config (or: tollgate check FILE): exit 0, or\nprint every problem and exit 1; --print writes the effective\nconfig (presets and defaults applied, secrets <redacted>)']],
    options: ['config', 'print', 'format'],
    positionals: 1,
    run: runCheck
  },
  doctor: {
    usage: [['doctor [--config FILE] [UPSTREAM]', 'check each upstream (or one): DNS, TCP, proxy, TLS, a real\ntoken, the clock, the probe; one line per step; exit 0 all\npassed, 1 a step failed (docs/doctor.md)']],
    options: ['config'],
    positionals: Number.POSITIVE_INFINITY,
    run: async ({ values, positionals }) => {
      const source = configSource(string(values.config), undefined, process.env)
      if (source.usage !== undefined) return usageError(source.usage, 'doctor')
      const { doctorCommand } = await import('./doctor/command.js')
      return await doctorCommand({ configFile: source.file, names: positionals, stdout: (text) => { process.stdout.write(text) }, stderr: (text) => { process.stderr.write(text) } })
    }
  },
  keygen: {
    usage: [['keygen [--kid ID] [--alg ALG] [--out DIR]', 'a new private key (PEM) and its public JWKS, for\nprivate_key_jwt vendors such as Redox; ALG: RS384 (default),\nRS256, RS512, PS256, ES256, ES384; --out DIR writes\nDIR/<kid>.pem (0600) and DIR/<kid>.jwks.json (never over a\nfile)']],
    options: ['kid', 'alg', 'out'],
    positionals: 0,
    run: runKeygen
  },
  sandbox: {
    usage: [['sandbox [--port N] [--redox-jwks FILE [--redox-client-id ID]]', 'only the sandbox vendors, on 127.0.0.1 (docs/sandbox.md);\nRedox verifies assertions with the public JWKS in FILE\n(client id redox-client unless --redox-client-id)']],
    options: ['port', 'redox-jwks', 'redox-client-id'],
    positionals: 0,
    run: runSandbox
  },
  help: {
    usage: [['help | --help', 'this text']],
    options: [],
    positionals: 1,
    run: async () => {
      process.stdout.write(usageText())
      return 0
    }
  }
}

function usageText (): string {
  const entries: Array<readonly [string, string]> = [
    ...Object.values(COMMANDS).flatMap((command) => command.usage),
    ['--version', 'print the version']
  ]
  const lines = entries.flatMap(([synopsis, about]) => {
    const head = `  tollgate ${synopsis}`
    const [first = '', ...rest] = about.split('\n')
    const indent = ' '.repeat(38)
    return head.length < 38 ? [`${head.padEnd(38)}${first}`, ...rest.map((line) => `${indent}${line}`)] : [head, ...about.split('\n').map((line) => `${indent}${line}`)]
  })
  return [
    'tollgate: an authenticating egress sidecar',
    '',
    'Usage:',
    ...lines,
    '',
    'Environment: TOLLGATE_CONFIG=FILE (as --config; --config wins), TOLLGATE_LOG_LEVEL and',
    'TOLLGATE_LOG_FORMAT (win over log.level and log.format). A flag wins over a TOLLGATE_*',
    'variable, which wins over the config file.',
    'Exit status: 0 ok, 1 a config problem or a runtime failure, 2 a usage error.',
    'Signals: SIGTERM and SIGINT drain and exit 0; SIGHUP reloads the config (the demo and the',
    'sandbox ignore it); so does a change of the config file or of a secret file it reads.',
    '',
    'Docs: docs/cli.md, README.md and docs/config.md',
    ''
  ].join('\n')
}

async function main (argv: readonly string[]): Promise<number> {
  const parsed = parseCommandLine(argv, OPTIONS, COMMANDS, DEFAULT_COMMAND)
  switch (parsed.kind) {
    case 'help':
      process.stdout.write(usageText())
      return 0
    case 'version':
      process.stdout.write(`${packageVersion()}\n`)
      return 0
    case 'usage':
      return usageError(parsed.message, parsed.command)
    case 'command':
      return await (COMMANDS[parsed.command] as Command).run(parsed)
  }
}

/** One line in tollgate's words, then how the command is used; exit 2. */
function usageError (message: string, command?: string): number {
  const usage = command === undefined
    ? `\n${usageText()}`
    : `usage: ${(COMMANDS[command] as Command).usage.map(([synopsis]) => `tollgate ${synopsis}`).join('\n       ')}\n(tollgate help: every command)\n`
  process.stderr.write(`${/^[a-z]+ does not take /.test(message) ? '' : 'tollgate: '}${message}\n${usage}`)
  return 2
}

/** One line, for a runtime failure or a problem outside the config file; exit 1. */
function failure (message: string): number {
  process.stderr.write(`tollgate: ${message}\n`)
  return 1
}

function string (value: string | boolean | undefined): string | undefined {
  return typeof value === 'string' ? value : undefined
}

/** `--port N` when given: the port, undefined when absent, or a usage error already printed (null). */
function portFlag (values: Values, command: string): number | undefined | null {
  const value = string(values.port)
  if (value === undefined) return undefined
  const port = parsePort(value)
  if (typeof port === 'string') {
    usageError(port, command)
    return null
  }
  return port
}

async function runSidecar ({ values }: CommandArgs): Promise<number> {
  const port = portFlag(values, DEFAULT_COMMAND)
  if (port === null) return 2
  const source = configSource(string(values.config), undefined, process.env)
  if (source.usage !== undefined) return usageError(source.usage, DEFAULT_COMMAND)
  if (source.file === undefined) {
    // A production image started without its config must fail, not serve fake vendors.
    if (process.env.NODE_ENV === 'production') {
      return usageError('no config (NODE_ENV=production does not start the demo): pass --config FILE or set TOLLGATE_CONFIG=FILE; for the demo, run `tollgate demo`', DEFAULT_COMMAND)
    }
    return await runDemo(values, DEFAULT_COMMAND)
  }
  const flags: FlagOverrides = port === undefined ? {} : { port }
  const loaded = load(source.file, flags)
  if (typeof loaded === 'number') return loaded
  return await serve(loaded, { file: source.file, from: source.from, flags })
}

interface Loaded {
  /** Flags and TOLLGATE_* variables applied. */
  readonly config: Config
  /** As the file says (a reload compares the next file with it). */
  readonly fileConfig: Config
  readonly files: readonly string[]
  readonly interpolated: Interpolated
  readonly applied: readonly string[]
}

/** The config file with the flags and TOLLGATE_* variables applied, or the exit code after printing why not. */
function load (file: string, flags: FlagOverrides): Loaded | number {
  const result = loadConfigFile(file)
  if (result.issues !== undefined) {
    process.stderr.write(`${file}: invalid config\n${formatIssues(result.issues)}\n`)
    return 1
  }
  const overridden = applyOverrides(result.config, flags, process.env)
  if (overridden.usage !== undefined) return usageError(overridden.usage, DEFAULT_COMMAND)
  if (overridden.issues.length > 0) return failure(formatIssues(overridden.issues).split('\n').join('; '))
  return { config: overridden.config, fileConfig: result.config, files: result.files, interpolated: result.interpolated, applied: overridden.applied }
}

interface ServeContext {
  readonly file: string
  readonly from: ConfigFrom
  readonly flags: FlagOverrides
}

async function serve (loaded: Loaded, context: ServeContext): Promise<number> {
  const { config } = loaded
  // Loaded only here: --help and check stay fast.
  const { buildServer, listen } = await import('./server.js')
  const { shutDown } = await import('./ops/shutdown.js')
  const { startReloader } = await import('./ops/reload.js')
  const ports: PortSources = new Map([
    ...(config.server.adminPort === undefined ? [] : [[config.server.adminPort, 'server.adminPort'] as const]),
    [config.server.port, context.flags.port === undefined ? 'server.port' : '--port']
  ])
  // Handled from now on: a SIGTERM that comes while starting stops the sidecar once it is up, rather than killing it mid-start.
  const stopped = waitForSignal()
  // Node's default for SIGHUP is to exit. One that comes while starting reloads once the sidecar is up.
  const sighup: { received: boolean, reload?: () => void } = { received: false }
  process.on('SIGHUP', () => {
    if (sighup.reload === undefined) sighup.received = true
    else sighup.reload()
  })
  let sidecar: Awaited<ReturnType<typeof buildServer>> | undefined
  try {
    sidecar = await buildServer(config, { interpolated: loaded.interpolated })
    await listen(sidecar)
  } catch (err) {
    sidecar?.logger.error({ err }, 'cannot start')
    sidecar?.logger.flush()
    return failure(describeStartFailure(err, ports, context.flags.port === undefined ? 'server.port, or --port N' : '--port N'))
  }
  // SIGHUP, the config file and its ${file:} secrets: one reload path; the flags keep winning over what is read again.
  // Watching before "started": a change made once that line is out is heard.
  const running = sidecar
  const reloader = startReloader({ sidecar: running, file: context.file, fileConfig: loaded.fileConfig, files: loaded.files, flags: context.flags, env: process.env })
  sighup.reload = () => { reloader.reload('SIGHUP').catch((err: unknown) => { running.logger.error({ err }, 'config reload failed') }) }
  sidecar.logger.info({ version: packageVersion(), config: context.file, configFrom: context.from, ...(loaded.applied.length === 0 ? {} : { overrides: loaded.applied }) }, 'started')
  sidecar.logger.flush()
  if (sighup.received) sighup.reload()
  const signal = await stopped
  reloader.stop()
  await shutDown(running, signal)
  return 0
}

async function runDemo (values: Values, command: string): Promise<number> {
  const port = portFlag(values, command)
  if (port === null) return 2
  const { startDemo, demoIntro, DEMO_PORT, DEMO_WARNING } = await import('./sandbox/demo.js')
  const { ignoreSighup, shutDown } = await import('./ops/shutdown.js')
  const stopped = waitForSignal()
  let demo: Awaited<ReturnType<typeof startDemo>> | undefined
  ignoreSighup((line) => {
    if (demo === undefined) process.stdout.write(`tollgate: ${line}\n`)
    else demo.sidecar.logger.info({ signal: 'SIGHUP' }, line)
  }, 'the demo')
  try {
    demo = await startDemo(port === undefined ? {} : { port })
  } catch (err) {
    const ports: PortSources = new Map([[port ?? DEMO_PORT, port === undefined ? 'the demo\'s default port' : '--port']])
    return failure(`demo: ${describeStartFailure(err, ports, '--port N')}`)
  }
  demo.sidecar.logger.warn({ sidecar: demo.url, sandbox: demo.sandbox.url }, DEMO_WARNING)
  demo.sidecar.logger.flush()
  process.stderr.write(demoIntro(demo))
  const signal = await stopped
  await shutDown(demo.sidecar, signal)
  await demo.sandbox.close()
  return 0
}

async function runCheck ({ values, positionals }: CommandArgs): Promise<number> {
  const format = string(values.format) ?? 'yaml'
  if (format !== 'yaml' && format !== 'json') return usageError(`--format must be yaml or json, not ${format}`, 'check')
  const source = configSource(string(values.config), positionals[0], process.env)
  if (source.usage !== undefined) return usageError(source.usage, 'check')
  if (source.file === undefined) return usageError('check needs a config: tollgate check FILE, or --config FILE, or TOLLGATE_CONFIG=FILE', 'check')
  const loaded = load(source.file, {})
  if (typeof loaded === 'number') return loaded
  const { config } = loaded
  if (values.print === true || values.format !== undefined) {
    const { renderConfig } = await import('./cli/effective-config.js')
    process.stdout.write(renderConfig(config, format as PrintFormat))
    return 0
  }
  process.stdout.write(`${source.file}: ok (${config.upstreams.length} upstream${config.upstreams.length === 1 ? '' : 's'}: ${config.upstreams.map((u) => `${u.prefix} → ${u.target}`).join(', ')})\n`)
  return 0
}

async function runKeygen ({ values }: CommandArgs): Promise<number> {
  const { generateKeyMaterial, isFileSafeKid, isKeygenAlg, KEYGEN_ALGS, KeyFileExists, writeKeyFiles } = await import('./auth/keygen.js')
  const kid = string(values.kid)
  const alg = string(values.alg) ?? 'RS384'
  const out = string(values.out)
  if (kid === '') return usageError('--kid must not be empty: the vendor picks the key by it (leave --kid out for the key\'s thumbprint)', 'keygen')
  if (!isKeygenAlg(alg)) return usageError(`--alg ${alg} is not an algorithm keygen makes keys for; valid: ${KEYGEN_ALGS.join(', ')}`, 'keygen')
  if (out === '') return usageError('--out needs a directory, not an empty string', 'keygen')
  if (out !== undefined && kid !== undefined && !isFileSafeKid(kid)) return usageError(`--kid ${kid} cannot name a file with --out: use letters, digits, . _ and -`, 'keygen')
  const material = await generateKeyMaterial({ alg, ...(kid === undefined ? {} : { kid }) })
  if (out === undefined) {
    process.stdout.write(`${material.privateKeyPem.trimEnd()}\n\n${JSON.stringify(material.jwks, null, 2)}\n`)
    return 0
  }
  try {
    const files = writeKeyFiles(out, material)
    process.stdout.write(`private key: ${files.privateKeyFile} (mode 0600: the upstream's auth.privateKey; keep it secret)\npublic JWKS: ${files.jwksFile} (register it with the vendor)\nkid: ${material.kid} (the upstream's auth.keyId)\n`)
    return 0
  } catch (err) {
    if (err instanceof KeyFileExists) return failure(`${err.path} already exists; keygen never overwrites a key: choose another --kid or --out DIR, or move the file away`)
    const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message
    return failure(`cannot write the key pair to ${out} (${code}); check that it is a directory you can write to`)
  }
}

async function runSandbox ({ values }: CommandArgs): Promise<number> {
  const port = portFlag(values, 'sandbox')
  if (port === null) return 2
  const jwksFile = string(values['redox-jwks'])
  const clientId = string(values['redox-client-id'])
  if (clientId !== undefined && jwksFile === undefined) return usageError('--redox-client-id goes with --redox-jwks FILE', 'sandbox')
  let redox
  if (jwksFile !== undefined) {
    const { readRedoxJwks } = await import('./cli/redox-jwks.js')
    redox = readRedoxJwks(jwksFile, clientId ?? 'redox-client')
    if ('problem' in redox) return failure(`--redox-jwks ${jwksFile}: ${redox.problem}`)
  }
  const { startSandbox } = await import('./sandbox/server.js')
  const stopped = waitForSignal()
  let sandbox: Awaited<ReturnType<typeof startSandbox>>
  try {
    sandbox = await startSandbox({ port: port ?? 0, ...(redox === undefined ? {} : { vendors: { redox: { clients: [redox] } } }) })
  } catch (err) {
    return failure(`sandbox: ${describeStartFailure(err, new Map([[port ?? 0, '--port']]), '--port N')}`)
  }
  // The sandbox has no logger: its SIGHUP line goes to stdout, with its other lines.
  const { ignoreSighup } = await import('./ops/shutdown.js')
  ignoreSighup((line) => { process.stdout.write(`tollgate sandbox: ${line}\n`) }, 'the sandbox')
  process.stdout.write(`sandbox vendors listening on ${sandbox.url} (see docs/sandbox.md)\n`)
  await stopped
  await sandbox.close()
  return 0
}

/** Resolves on the first SIGTERM/SIGINT; a second one exits at once. */
function waitForSignal (): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    let received = false
    const handler = (signal: NodeJS.Signals): void => {
      if (received) process.exit(1)
      received = true
      resolve(signal)
    }
    process.on('SIGTERM', handler)
    process.on('SIGINT', handler)
  })
}

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code
  // Let pending log writes flush, then exit even if a stray handle lingers.
  setTimeout(() => process.exit(code), 100).unref()
}, (err: unknown) => {
  // Only a bug gets here (every operator's problem above is a sentence): the stack helps whoever fixes it.
  process.stderr.write(`tollgate: internal error, please report it: ${(err as Error).stack ?? String(err)}\n`)
  process.exit(1)
})
