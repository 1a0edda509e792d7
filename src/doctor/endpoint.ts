/**
 * One origin (the target, or the token endpoint when it lives elsewhere)
 * as the sidecar reaches it: `dns` and `tcp` for the host it connects to
 * (the proxy's, when one applies), `proxy` (the CONNECT tunnel), `tls` (the
 * handshake with the target, through the tunnel if any). Each step runs on
 * the connection the one before made; after a failure the rest are
 * reported as skipped.
 */
import type { LookupFunction, Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import type { UpstreamConfig } from '../config/types.js'
import { MAX_CONNECT_TIMEOUT_MS, type ConnectOptions, type ProxyRoute } from '../egress/dispatcher.js'
import { resolveHost } from './dns.js'
import { openTunnel, proxySource } from './proxy.js'
import { proxyFor } from './proxy-route.js'
import { fail, skip, warn, type StepName, type StepOutcome } from './step.js'
import { connectTcp } from './tcp.js'
import { checkTls } from './tls.js'

export interface EndpointContext {
  readonly upstream: UpstreamConfig
  readonly connect: ConnectOptions
  readonly env: NodeJS.ProcessEnv
  readonly lookup: LookupFunction
  readonly emit: (step: StepName, outcome: StepOutcome) => void
}

/** Runs the steps for `url`'s origin; true when none failed. */
export async function checkEndpoint (url: URL, ctx: EndpointContext): Promise<boolean> {
  const { upstream, emit } = ctx
  const https = url.protocol === 'https:'
  const port = Number(url.port) || (https ? 443 : 80)
  const timeoutMs = Math.min(upstream.timeoutMs, MAX_CONNECT_TIMEOUT_MS)
  const later: StepName[] = https ? ['tcp', 'tls'] : ['tcp']
  const skipRest = (steps: readonly StepName[], why: string): false => {
    for (const step of steps) emit(step, skip(why))
    return false
  }

  let route: ProxyRoute | undefined
  try {
    route = proxyFor(url, upstream, ctx.env)
  } catch (err) {
    emit('proxy', fail((err as Error).message))
    return false
  }
  if (route !== undefined) later.splice(1, 0, 'proxy')

  // With a proxy, the proxy resolves and reaches the target: this machine only reaches the proxy.
  const proxyUrl = route === undefined ? undefined : new URL(route.uri)
  const host = proxyUrl?.hostname ?? url.hostname
  const hostPort = proxyUrl === undefined ? port : Number(proxyUrl.port) || (proxyUrl.protocol === 'https:' ? 443 : 80)
  // Where this machine cannot resolve or reach a public host, a proxy is often the way out.
  const proxyHint = route === undefined && !isLoopback(url.hostname) ? { hint: `behind a corporate proxy? set HTTPS_PROXY or upstreams.${upstream.name}.proxy` } : {}
  const resolved = await resolveHost(host, {
    lookup: ctx.lookup,
    timeoutMs,
    ...(route === undefined ? proxyHint : { note: `the proxy (from ${proxySource(route, upstream.name)}) resolves ${url.hostname}` })
  })
  emit('dns', resolved.outcome)
  if (resolved.outcome.status === 'fail') return skipRest(later, 'the dns step failed')

  const tcp = await connectTcp(resolved.addresses, hostPort, { timeoutMs, ...proxyHint })
  emit('tcp', tcp.outcome)
  const socket: Socket | undefined = tcp.socket
  if (socket === undefined) return skipRest(later.slice(1), 'the tcp step failed')

  try {
    let stream: Duplex | undefined = socket
    if (route !== undefined) {
      const tunnel = await openTunnel(socket, route, url, upstream.name, timeoutMs)
      emit('proxy', tunnel.outcome)
      if (tunnel.outcome.status === 'fail') return skipRest(https ? ['tls'] : [], 'the proxy step failed')
      stream = tunnel.stream
    }
    if (!https) {
      if (!isLoopback(url.hostname)) emit('tls', plainHttp(url))
      return true
    }
    if (stream === undefined) return true
    const tls = await checkTls(stream, {
      host: url.hostname,
      port,
      connect: ctx.connect,
      upstream: upstream.name,
      caConfigured: upstream.tls?.ca !== undefined,
      timeoutMs
    })
    emit('tls', tls)
    return tls.status !== 'fail'
  } finally {
    socket.destroy()
  }
}

function plainHttp (url: URL): StepOutcome {
  return warn(`${url.host}: plain http://, no TLS: the bearer token crosses the network readable by anyone on the path`)
}

/** As src/egress decides it: localhost, *.localhost, 127.0.0.0/8, [::1]. */
function isLoopback (hostname: string): boolean {
  const host = hostname.replace(/^\[(.*)\]$/, '$1').replace(/\.$/, '').toLowerCase()
  return host === 'localhost' || host.endsWith('.localhost') || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host)
}
