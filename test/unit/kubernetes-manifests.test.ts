/* eslint-disable no-template-curly-in-string -- ${file:} is the config syntax under test */
/**
 * deploy/kubernetes stays deployable: every manifest parses, and the pieces
 * that must agree do. The ConfigMap's tollgate config passes tollgate's own
 * validation (with its ${file:} secrets written to a tmp folder); the
 * container ports, probes and Prometheus annotations use the ports that
 * config listens on; every secret file it reads is mounted, read-only, from
 * a Secret key that secret.example.yaml documents; the tollgate container is
 * hardened and has resources. The alert rules in deploy/prometheus and
 * docs/operations.md name only metrics tollgate exports. One check per way
 * the files can drift apart.
 */
import { test, type TestContext } from 'node:test'
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { basename, dirname, isAbsolute, join } from 'node:path'
import { parse as parseYaml, parseAllDocuments } from 'yaml'
import { resolveConfig } from '../../src/config/load.js'
import type { Config } from '../../src/config/types.js'
import { ConfigState } from '../../src/ops/config-state.js'
import { createMetrics } from '../../src/ops/metrics.js'
import { REPO_ROOT } from '../helpers/cli-process.js'
import { fixtureDir } from '../helpers/fixtures.js'

const DIR = join(REPO_ROOT, 'deploy', 'kubernetes')
const FILE_REFERENCE = /\$\{file:([^}]*)\}/g
/** The image's USER (Dockerfile): runAsUser must be the same uid. */
const IMAGE_UID = Number(/^USER\s+(\d+)/m.exec(readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8'))?.[1])
/** tollgate's RSS target under load; a smaller memory limit would OOM-kill it. */
const RSS_TARGET_BYTES = 120e6

interface Probe { httpGet?: { path?: string, port?: number | string, host?: string } }
interface EnvVar { name: string, value?: string }
interface VolumeMount { name: string, mountPath: string, readOnly?: boolean, subPath?: string }
interface SecurityContext {
  runAsNonRoot?: boolean
  runAsUser?: number
  runAsGroup?: number
  fsGroup?: number
  readOnlyRootFilesystem?: boolean
  allowPrivilegeEscalation?: boolean
  capabilities?: { drop?: string[] }
  seccompProfile?: { type?: string }
}
interface Container {
  name: string
  image?: string
  args?: string[]
  restartPolicy?: string
  env?: EnvVar[]
  ports?: Array<{ name?: string, containerPort: number }>
  startupProbe?: Probe
  livenessProbe?: Probe
  readinessProbe?: Probe
  lifecycle?: {
    postStart?: { exec?: { command?: string[] } }
    preStop?: { exec?: { command?: string[] }, sleep?: { seconds: number } }
  }
  resources?: { requests?: Record<string, string>, limits?: Record<string, string> }
  securityContext?: SecurityContext
  volumeMounts?: VolumeMount[]
}
interface Volume {
  name: string
  configMap?: { name: string, items?: Array<{ key: string, path: string }> }
  secret?: { secretName: string, defaultMode?: number, items?: Array<{ key: string, path: string }> }
}
interface PodSpec {
  initContainers?: Container[]
  containers: Container[]
  volumes?: Volume[]
  securityContext?: SecurityContext
  terminationGracePeriodSeconds?: number
}
interface Manifest {
  apiVersion?: string
  kind?: string
  metadata?: { name?: string, annotations?: Record<string, string> }
  data?: Record<string, string>
  stringData?: Record<string, string>
  spec?: { template?: { metadata?: { annotations?: Record<string, string> }, spec?: PodSpec } }
  resources?: string[]
  images?: Array<{ name: string }>
}
interface ManifestFile { file: string, documents: Manifest[] }

/**
 * Every YAML file in deploy/kubernetes. Read as YAML 1.1, as kubectl's parser does
 * (so `0400` would be octal and `yes` a boolean, as the cluster would see them).
 */
function readManifests (): ManifestFile[] {
  return readdirSync(DIR).filter((name) => /\.ya?ml$/.test(name)).sort().map((file) => {
    const documents = parseAllDocuments(readFileSync(join(DIR, file), 'utf8'), { version: '1.1' })
    if (!Array.isArray(documents)) return { file, documents: [] }
    for (const document of documents) {
      if (document.errors.length > 0 || document.warnings.length > 0) {
        throw new Error(`${file}: ${[...document.errors, ...document.warnings].map((issue) => issue.message).join('; ')}`)
      }
    }
    return { file, documents: documents.map((document) => document.toJS() as Manifest).filter((manifest) => manifest !== null) }
  })
}

const MANIFESTS = readManifests()
const ALL = MANIFESTS.flatMap(({ documents }) => documents)
const KUSTOMIZATION = ALL.find((manifest) => manifest.kind === 'Kustomization')
const DEPLOYMENTS = MANIFESTS.flatMap(({ file, documents }) => documents.filter((manifest) => manifest.kind === 'Deployment').map((deployment) => ({ file, deployment })))

function tollgateOf (pod: PodSpec): { container: Container, native: boolean } {
  const init = pod.initContainers?.find((container) => container.name === 'tollgate')
  if (init !== undefined) return { container: init, native: true }
  const container = pod.containers.find((candidate) => candidate.name === 'tollgate')
  if (container === undefined) throw new Error('no container named tollgate')
  return { container, native: false }
}

function podOf (deployment: Manifest): PodSpec {
  const pod = deployment.spec?.template?.spec
  if (pod === undefined) throw new Error(`${deployment.metadata?.name ?? '?'}: no pod template`)
  return pod
}

function volumeOf (pod: PodSpec, mount: VolumeMount): Volume {
  const volume = pod.volumes?.find((candidate) => candidate.name === mount.name)
  if (volume === undefined) throw new Error(`volumeMount ${mount.name} has no volume`)
  return volume
}

/** The config text tollgate reads: `--config PATH`, PATH inside a ConfigMap mount, and that key. */
function configTextOf (pod: PodSpec, container: Container): string {
  const args = container.args ?? []
  const path = args[args.indexOf('--config') + 1]
  if (!args.includes('--config') || path === undefined) throw new Error('tollgate has no --config argument')
  const mount = container.volumeMounts?.find((candidate) => candidate.mountPath === dirname(path))
  if (mount === undefined) throw new Error(`nothing is mounted at ${dirname(path)}`)
  const source = volumeOf(pod, mount).configMap
  if (source === undefined) throw new Error(`${dirname(path)} is not a ConfigMap volume`)
  const key = source.items?.find((item) => item.path === basename(path))?.key ?? basename(path)
  const configMap = ALL.find((manifest) => manifest.kind === 'ConfigMap' && manifest.metadata?.name === source.name)
  const text = configMap?.data?.[key]
  if (text === undefined) throw new Error(`ConfigMap ${source.name} has no key ${key}`)
  return text
}

/** The config resolved by tollgate itself, each ${file:PATH} pointed at a dummy file under a tmp folder. */
function resolveWithDummySecrets (t: TestContext, text: string, container: Container): ReturnType<typeof resolveConfig> {
  const { dir } = fixtureDir(t)
  const mapped = text.replace(FILE_REFERENCE, (_whole, path: string) => {
    const file = join(dir, path.trim())
    mkdirSync(dirname(file), { recursive: true })
    writeFileSync(file, `dummy-${basename(file)}-0123456789\n`)
    return `\${file:${file}}`
  })
  const env = Object.fromEntries((container.env ?? []).flatMap(({ name, value }) => value === undefined ? [] : [[name, value]]))
  return resolveConfig(parseYaml(mapped), { env, baseDir: dir })
}

function resolvedConfig (t: TestContext, pod: PodSpec, container: Container): Config {
  const result = resolveWithDummySecrets(t, configTextOf(pod, container), container)
  if (result.issues !== undefined) throw new Error(`the ConfigMap's config is invalid:\n${result.issues.map((issue) => `${issue.path}: ${issue.message}`).join('\n')}`)
  return result.config
}

function portNumber (container: Container, port: number | string | undefined): number | undefined {
  if (typeof port === 'number') return port
  return container.ports?.find((candidate) => candidate.name === port)?.containerPort
}

function isLoopback (host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host)
}

/** Kubernetes memory quantity → bytes (Ki/Mi/Gi binary, k/M/G decimal). */
function bytes (quantity: string | undefined): number {
  const match = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|k|M|G)?$/.exec(quantity ?? '')
  if (match === null) return Number.NaN
  const unit = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, k: 1e3, M: 1e6, G: 1e9 }[match[2] ?? ''] ?? 1
  return Number(match[1]) * unit
}

/** Kubernetes CPU quantity → millicores. */
function millicores (quantity: string | undefined): number {
  const match = /^(\d+(?:\.\d+)?)(m)?$/.exec(quantity ?? '')
  if (match === null) return Number.NaN
  return match[2] === 'm' ? Number(match[1]) : Number(match[1]) * 1000
}

function preStopSeconds (container: Container): number {
  const preStop = container.lifecycle?.preStop
  if (preStop?.sleep !== undefined) return preStop.sleep.seconds
  const command = preStop?.exec?.command ?? []
  return command[0] === 'sleep' ? Number(command[1]) : 0
}

test('every manifest parses; the kustomization lists files that exist, and never the example Secret', (t: TestContext) => {
  t.assert.ok(MANIFESTS.length > 0, 'no manifests in deploy/kubernetes')
  for (const manifest of ALL) {
    t.assert.ok(typeof manifest.apiVersion === 'string' && typeof manifest.kind === 'string', 'a document without apiVersion or kind')
  }
  t.assert.ok(KUSTOMIZATION !== undefined, 'no kustomization.yaml')
  const resources = KUSTOMIZATION?.resources ?? []
  const files = new Set(MANIFESTS.map(({ file }) => file))
  for (const resource of resources) t.assert.ok(files.has(resource), `kustomization lists ${resource}, which does not exist`)
  t.assert.ok(resources.includes('configmap.yaml') && resources.includes('deployment.yaml'))
  t.assert.ok(!resources.some((resource) => /example/.test(resource)), 'the example Secret holds placeholders: it must not be applied')
  const imageNames = new Set(KUSTOMIZATION?.images?.map((image) => image.name))
  for (const { file, deployment } of DEPLOYMENTS) {
    const image = tollgateOf(podOf(deployment)).container.image ?? ''
    t.assert.ok(imageNames.has(image.replace(/[:@].*$/, '')), `${file}: the tollgate image ${image} is not rewritten by kustomization images`)
  }
})

test('one Deployment runs tollgate as a native sidecar, the other as a plain container', (t: TestContext) => {
  t.plan(5)
  const native = DEPLOYMENTS.filter(({ deployment }) => tollgateOf(podOf(deployment)).native)
  const plain = DEPLOYMENTS.filter(({ deployment }) => !tollgateOf(podOf(deployment)).native)
  t.assert.deepStrictEqual(native.map(({ file }) => file), ['deployment.yaml'])
  t.assert.strictEqual(plain.length, 1)
  const sidecar = native[0] === undefined ? undefined : tollgateOf(podOf(native[0].deployment)).container
  // restartPolicy: Always on an init container is what makes it a sidecar (Kubernetes >= 1.29).
  t.assert.strictEqual(sidecar?.restartPolicy, 'Always')
  // The kubelet starts the app only once the sidecar's startupProbe passes.
  t.assert.ok(sidecar?.startupProbe?.httpGet !== undefined, 'the native sidecar needs a startupProbe to hold the app back')
  const pod = plain[0] === undefined ? undefined : podOf(plain[0].deployment)
  // Plain containers start in list order, each after the previous one's postStart hook.
  t.assert.strictEqual(pod?.containers[0]?.name, 'tollgate', 'tollgate must be the first container, so the app waits for it')
})

for (const { file, deployment } of DEPLOYMENTS) {
  test(`${file}: the pieces agree with the ConfigMap's config`, async (t: TestContext) => {
    const pod = podOf(deployment)
    const { container, native } = tollgateOf(pod)
    const config = resolvedConfig(t, pod, container)
    const { server } = config

    await t.test('the config passes tollgate validation with its secrets in place', (t: TestContext) => {
      t.plan(2)
      t.assert.ok(config.upstreams.length > 0)
      // The same text with a secret file missing is refused, naming the field: the mapping above is real.
      const unmapped = resolveConfig(parseYaml(configTextOf(pod, container)), { env: {}, baseDir: '/nonexistent' })
      t.assert.ok(unmapped.issues?.some((issue) => /cannot read file/.test(issue.message)), 'the config reads no secret file')
    })

    await t.test('tollgate listens where the kubelet can probe it, and serves the proxy to loopback only', (t: TestContext) => {
      t.plan(3)
      // httpGet probes connect to the pod IP, never to the pod's loopback.
      t.assert.ok(!isLoopback(server.host), `server.host ${server.host} is loopback: the kubelet's probes could never reach it`)
      t.assert.ok(server.allow.length > 0, 'listening beyond loopback, the proxy must allow loopback clients only')
      t.assert.ok(server.allow.every((entry) => entry.startsWith('127.') || entry.startsWith('::1')), `server.allow ${server.allow.join(', ')} lets other pods use the proxy`)
    })

    await t.test('container port and probes use server.port', (t: TestContext) => {
      t.plan(8)
      t.assert.ok(container.ports?.some((port) => port.containerPort === server.port), `no containerPort ${server.port}`)
      const probes = { livenessProbe: ['/healthz'], readinessProbe: ['/readyz'], startupProbe: ['/healthz', '/readyz'] } as const
      for (const [kind, paths] of Object.entries(probes) as Array<[keyof typeof probes, readonly string[]]>) {
        const httpGet = container[kind]?.httpGet
        t.assert.ok(paths.includes(httpGet?.path ?? ''), `${kind} path ${httpGet?.path ?? '(none)'}`)
        t.assert.strictEqual(portNumber(container, httpGet?.port), server.port, `${kind} port`)
      }
      t.assert.ok([container.livenessProbe, container.readinessProbe, container.startupProbe].every((probe) => probe?.httpGet?.host === undefined), 'a probe host would bypass the pod IP')
    })

    await t.test('the Prometheus annotations point at /metrics on the port that serves it', (t: TestContext) => {
      t.plan(4)
      const annotations = deployment.spec?.template?.metadata?.annotations ?? {}
      const metricsPort = server.adminPort ?? server.port
      t.assert.strictEqual(annotations['prometheus.io/scrape'], 'true')
      t.assert.strictEqual(annotations['prometheus.io/path'], '/metrics')
      t.assert.strictEqual(annotations['prometheus.io/port'], String(metricsPort))
      t.assert.ok(container.ports?.some((port) => port.containerPort === metricsPort), `no containerPort ${metricsPort} for /metrics`)
    })

    await t.test('every ${file:} secret is a key of the mounted Secret, read-only at 0400', (t: TestContext) => {
      const references = [...configTextOf(pod, container).matchAll(FILE_REFERENCE)].map((match) => (match[1] ?? '').trim())
      t.plan(1 + references.length * 6)
      t.assert.ok(references.length > 0, 'the config reads no secret from a file')
      for (const path of references) {
        t.assert.ok(isAbsolute(path), `${path}: relative paths resolve against the ConfigMap mount, not the Secret`)
        const mount = container.volumeMounts?.find((candidate) => path.startsWith(`${candidate.mountPath}/`))
        const volume = mount === undefined ? undefined : volumeOf(pod, mount)
        t.assert.ok(volume?.secret !== undefined, `${path} is not under a Secret volume mounted in tollgate`)
        t.assert.strictEqual(mount?.readOnly, true, `${path}: mount it readOnly`)
        t.assert.strictEqual(volume?.secret?.defaultMode, 0o400, `${path}: defaultMode must be 0400`)
        const relative = mount === undefined ? '' : path.slice(mount.mountPath.length + 1)
        const items = volume?.secret?.items
        const key = items === undefined ? relative : items.find((item) => item.path === relative)?.key
        t.assert.ok(key !== undefined, `${path}: no item of the Secret volume is mounted as ${relative}`)
        const secret = ALL.find((manifest) => manifest.kind === 'Secret' && manifest.metadata?.name === volume?.secret?.secretName)
        const keys = new Set([...Object.keys(secret?.data ?? {}), ...Object.keys(secret?.stringData ?? {})])
        t.assert.ok(key !== undefined && keys.has(key), `${path}: Secret ${volume?.secret?.secretName ?? '?'} documents no key ${key ?? relative}`)
      }
    })

    await t.test('the tollgate container is hardened, and can still read its secrets', (t: TestContext) => {
      t.plan(8)
      const podContext = pod.securityContext ?? {}
      const own = container.securityContext ?? {}
      t.assert.strictEqual(own.runAsNonRoot ?? podContext.runAsNonRoot, true)
      t.assert.strictEqual(own.runAsUser ?? podContext.runAsUser, IMAGE_UID, 'runAsUser must be the image USER (Dockerfile)')
      t.assert.strictEqual(own.readOnlyRootFilesystem, true)
      t.assert.strictEqual(own.allowPrivilegeEscalation, false)
      t.assert.ok(own.capabilities?.drop?.includes('ALL'), 'capabilities must drop ALL')
      t.assert.strictEqual((own.seccompProfile ?? podContext.seccompProfile)?.type, 'RuntimeDefault')
      // Secret files are root-owned; at 0400 only the fsGroup the kubelet adds makes them readable to uid 1000.
      t.assert.ok(typeof podContext.fsGroup === 'number', 'without fsGroup, tollgate cannot read its 0400 secret files')
      t.assert.ok(pod.volumes?.every((volume) => volume.secret === undefined || ((volume.secret.defaultMode ?? 0o644) & 0o004) === 0), 'a Secret volume readable by every user')
    })

    await t.test('requests and limits are set, with room for tollgate\'s memory target', (t: TestContext) => {
      t.plan(7)
      const { requests = {}, limits = {} } = container.resources ?? {}
      t.assert.ok(millicores(requests.cpu) > 0 && millicores(limits.cpu) >= millicores(requests.cpu), 'cpu requests and limits')
      t.assert.ok(bytes(requests.memory) > 0, 'memory request')
      t.assert.ok(bytes(limits.memory) >= bytes(requests.memory), 'memory limit below the request')
      t.assert.ok(bytes(limits.memory) >= RSS_TARGET_BYTES, `memory limit ${limits.memory ?? '(none)'} is below tollgate's ${RSS_TARGET_BYTES / 1e6} MB target`)
      const heap = /--max-old-space-size=(\d+)/.exec(container.env?.find((variable) => variable.name === 'NODE_OPTIONS')?.value ?? '')
      t.assert.ok(heap !== null, 'cap the heap below the memory limit (NODE_OPTIONS=--max-old-space-size)')
      t.assert.ok(heap !== null && Number(heap[1]) * 2 ** 20 < bytes(limits.memory), 'the heap cap must leave room below the memory limit')
      const semi = /--max-semi-space-size=(\d+)/.exec(container.env?.find((variable) => variable.name === 'NODE_OPTIONS')?.value ?? '')
      // The young generation is three semi-spaces at most; old space, young generation and ~50 MiB of code and buffers must fit.
      t.assert.ok(semi !== null && heap !== null && (Number(heap[1]) + 3 * Number(semi[1]) + 50) * 2 ** 20 <= bytes(limits.memory), 'cap the young generation too (--max-semi-space-size), so a burst of large bodies stays inside the limit')
    })

    await t.test('the app calls tollgate on loopback, under an upstream prefix', (t: TestContext) => {
      const urls = pod.containers.filter((candidate) => candidate.name !== 'tollgate')
        .flatMap((app) => app.env ?? []).flatMap(({ value }) => value?.startsWith('http://127.0.0.1') === true ? [new URL(value)] : [])
      t.plan(1 + urls.length * 2)
      t.assert.ok(urls.length > 0, 'no app env var points at http://127.0.0.1')
      const prefixes = config.upstreams.map((upstream) => upstream.prefix)
      for (const url of urls) {
        t.assert.strictEqual(Number(url.port), server.port, `${url.href}: not tollgate's port`)
        t.assert.ok(prefixes.some((prefix) => url.pathname === prefix || url.pathname.startsWith(`${prefix}/`)), `${url.href}: no upstream has this prefix`)
      }
    })

    await t.test('the grace period covers the drain', (t: TestContext) => {
      t.plan(native ? 1 : 3)
      const preStop = preStopSeconds(container)
      const grace = pod.terminationGracePeriodSeconds ?? 30
      t.assert.ok(grace > preStop + server.shutdownGraceMs / 1000, `terminationGracePeriodSeconds ${grace} <= preStop ${preStop}s + shutdownGrace ${server.shutdownGraceMs / 1000}s`)
      if (native) return
      // A plain container gets SIGTERM with the app: it must keep serving while the app drains.
      t.assert.ok(preStop > 0, 'a plain tollgate container needs a preStop sleep')
      const hook = container.lifecycle?.postStart?.exec?.command?.join(' ') ?? ''
      t.assert.ok(hook.includes(`127.0.0.1:${server.port}/readyz`), 'the postStart hook must wait for tollgate\'s /readyz')
    })
  })
}

test('the alert rules and docs/operations.md name only metrics tollgate exports', (t: TestContext) => {
  const exported = new Set<string>()
  const { registry } = createMetrics()
  // The config's metrics (tollgate_config_*) live beside the others on the same registry (src/server.ts).
  const resolved = resolveConfig({ upstreams: { vendor: { target: 'http://127.0.0.1:1' } } }, { env: {} })
  if (resolved.config === undefined) throw new Error('a minimal config did not resolve')
  // eslint-disable-next-line no-new -- it registers its metrics on the registry
  new ConfigState(registry, resolved.config, undefined)
  for (const metric of registry.getMetricsAsArray()) {
    const { name, type } = metric as unknown as { name: string, type: string }
    exported.add(name)
    if (type === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) exported.add(`${name}${suffix}`)
  }
  const sources = {
    'deploy/prometheus/tollgate-alerts.yaml': readFileSync(join(REPO_ROOT, 'deploy', 'prometheus', 'tollgate-alerts.yaml'), 'utf8'),
    'docs/operations.md': readFileSync(join(REPO_ROOT, 'docs', 'operations.md'), 'utf8')
  }
  const named = Object.entries(sources).flatMap(([file, text]) =>
    // A trailing underscore is a family (`tollgate_process_*`), not a name.
    [...new Set(text.match(/\btollgate_[a-z0-9_]*[a-z0-9]\b/g) ?? [])].map((name) => ({ file, name })))
  t.plan(1 + named.length)
  t.assert.ok(named.length > 10, 'no metric names found')
  for (const { file, name } of named) t.assert.ok(exported.has(name), `${file} names ${name}, which tollgate does not export`)
})
