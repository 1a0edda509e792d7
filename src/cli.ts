#!/usr/bin/env node
/**
 * argv → run | check | keygen | sandbox | demo. The only file that calls
 * process.exit: 0 done, 1 bad config or failure, 2 bad usage.
 */
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { formatIssues } from './config/issues.js'
import { loadConfigFile } from './config/load.js'
import type { Config } from './config/types.js'

const USAGE = `tollgate: an authenticating egress sidecar

Usage:
  tollgate [--config FILE]            run the sidecar (TOLLGATE_CONFIG=FILE works too);
                                      with no config, run the demo against the sandbox vendors
                                      (on port 8080, or --port N)
  tollgate check --config FILE        validate a config: exit 0, or print every problem and exit 1
  tollgate keygen [--kid ID] [--alg RS384]
                                      print a new private key (PEM) and its public JWKS
  tollgate sandbox [--port N] [--redox-jwks FILE [--redox-client-id ID]]
                                      run only the sandbox vendors on 127.0.0.1; Redox
                                      verifies assertions with the public JWKS in FILE
                                      (as keygen prints it; client id redox-client)
  tollgate --help                     this text

Docs: README.md and docs/config.md`

type Command = 'run' | 'check' | 'keygen' | 'sandbox'

async function main (argv: string[]): Promise<number> {
  let parsed
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        config: { type: 'string', short: 'c' },
        port: { type: 'string', short: 'p' },
        kid: { type: 'string' },
        alg: { type: 'string' },
        'redox-jwks': { type: 'string' },
        'redox-client-id': { type: 'string' },
        help: { type: 'boolean', short: 'h' }
      }
    })
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n\n${USAGE}\n`)
    return 2
  }
  const { values, positionals } = parsed
  if (values.help === true) {
    process.stdout.write(`${USAGE}\n`)
    return 0
  }
  const command = (positionals[0] ?? 'run') as Command
  if (!['run', 'check', 'keygen', 'sandbox'].includes(command) || positionals.length > 1) {
    process.stderr.write(`unknown command: ${positionals.join(' ')}\n\n${USAGE}\n`)
    return 2
  }
  // An empty TOLLGATE_CONFIG (a template left blank) means no config, as if unset.
  const configFile = values.config ?? (process.env.TOLLGATE_CONFIG === '' ? undefined : process.env.TOLLGATE_CONFIG)

  switch (command) {
    case 'check': {
      if (configFile === undefined) {
        process.stderr.write(`check needs --config FILE\n\n${USAGE}\n`)
        return 2
      }
      const loaded = load(configFile)
      if (loaded === undefined) return 1
      const { config } = loaded
      process.stdout.write(`${configFile}: ok (${config.upstreams.length} upstream${config.upstreams.length === 1 ? '' : 's'}: ${config.upstreams.map((u) => `${u.prefix} → ${u.target}`).join(', ')})\n`)
      return 0
    }
    case 'keygen': {
      const { generateKeyMaterial } = await import('./auth/keygen.js')
      const material = await generateKeyMaterial({ ...(values.kid === undefined ? {} : { kid: values.kid }), ...(values.alg === undefined ? {} : { alg: values.alg as never }) })
      process.stdout.write(`${material.privateKeyPem.trimEnd()}\n\n${JSON.stringify(material.jwks, null, 2)}\n`)
      return 0
    }
    case 'sandbox': {
      const port = parsePort(values.port)
      if (port === undefined) return 2
      const { startSandbox } = await import('./sandbox/server.js')
      const redox = readRedoxJwks(values['redox-jwks'], values['redox-client-id'])
      if (redox === null) return 2
      const sandbox = await startSandbox({ port, ...(redox === undefined ? {} : { vendors: { redox: { clients: [redox] } } }) })
      process.stdout.write(`sandbox vendors listening on ${sandbox.url} (see docs/sandbox.md)\n`)
      await waitForSignal()
      await sandbox.close()
      return 0
    }
    case 'run': {
      if (configFile === undefined) {
        const { runDemo } = await import('./sandbox/demo.js')
        const port = values.port === undefined ? undefined : parsePort(values.port)
        if (values.port !== undefined && port === undefined) return 2
        return await runDemo({ waitForSignal, ...(port === undefined ? {} : { port }) })
      }
      const loaded = load(configFile)
      if (loaded === undefined) return 1
      return await run(loaded.config, configFile, loaded.files)
    }
  }
}

function load (file: string): { config: Config, files: readonly string[] } | undefined {
  const result = loadConfigFile(file)
  if (result.issues !== undefined) {
    process.stderr.write(`${file}: invalid config\n${formatIssues(result.issues)}\n`)
    return undefined
  }
  return result
}

async function run (config: Config, configFile: string, secretFiles: readonly string[]): Promise<number> {
  // Loaded only here: --help and check stay fast.
  const { buildServer, listen } = await import('./server.js')
  const { drain } = await import('./ops/shutdown.js')
  const { startSecretRotation } = await import('./ops/secret-rotation.js')
  const sidecar = await buildServer(config)
  try {
    await listen(sidecar)
  } catch (err) {
    sidecar.logger.error({ err }, 'cannot listen')
    return 1
  }
  // ${file:...} secrets are re-read when they change (rotation without restart).
  const rotation = startSecretRotation(sidecar, configFile, secretFiles)
  const signal = await waitForSignal()
  rotation.stop()
  sidecar.logger.info({ signal, graceMs: config.server.shutdownGraceMs }, 'shutting down')
  const outcome = await drain(sidecar, config.server.shutdownGraceMs)
  sidecar.logger.info({ outcome }, 'stopped')
  sidecar.logger.flush()
  return 0
}

/** The Redox client for `sandbox --redox-jwks`: undefined when not asked for, null after printing why it cannot be read. */
function readRedoxJwks (file: string | undefined, clientId = 'redox-client'): { clientId: string, publicKey: { keys: Array<Record<string, string>> } } | undefined | null {
  if (file === undefined) return undefined
  try {
    const text = readFileSync(file, 'utf8')
    // `keygen` prints the private key first, then the JWKS: take the JSON part.
    const jwks = JSON.parse(text.slice(text.indexOf('{'))) as { keys?: unknown }
    if (!Array.isArray(jwks.keys)) throw new Error('no "keys" array')
    return { clientId, publicKey: jwks as { keys: Array<Record<string, string>> } }
  } catch (err) {
    process.stderr.write(`--redox-jwks ${file}: not a readable JWKS (${(err as Error).message})\n`)
    return null
  }
}

function parsePort (value: string | undefined): number | undefined {
  if (value === undefined) return 0
  const port = Number(value)
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    process.stderr.write(`--port must be a port number, not ${value}\n`)
    return undefined
  }
  return port
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
  process.stderr.write(`tollgate: ${(err as Error).stack ?? String(err)}\n`)
  process.exit(1)
})
