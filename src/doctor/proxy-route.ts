/**
 * Which proxy, if any, the sidecar would use for a URL: egress's own choice
 * (the upstream's `proxy`, else HTTPS_PROXY / HTTP_PROXY, loopback exempt),
 * then NO_PROXY, which at run time undici's EnvHttpProxyAgent matches per
 * request. Its rule is repeated here so the doctor can say up front whether
 * a host goes direct: entries split on commas and spaces, `*.` or `.`
 * prefixes dropped, an optional `:port`, and a host matches an entry equal
 * to it or one it is a subdomain of.
 *
 * @see undici lib/dispatcher/env-http-proxy-agent.js (#shouldProxy, #parseNoProxy)
 */
import type { UpstreamConfig } from '../config/types.js'
import { chooseRoute, type ProxyRoute } from '../egress/dispatcher.js'

const DEFAULT_PORTS: Readonly<Record<string, number>> = { 'http:': 80, 'https:': 443 }

/**
 * @throws TypeError when the proxy variable that applies is not an http(s)
 *   URL (the message names the variable, never its value).
 */
export function proxyFor (url: URL, upstream: UpstreamConfig, env: NodeJS.ProcessEnv): ProxyRoute | undefined {
  const route = chooseRoute(url, upstream.proxy, env)
  if (route?.noProxy === undefined || route.noProxy === '') return route
  return bypassed(url, route.noProxy) ? undefined : route
}

/** Whether NO_PROXY (`noProxy`, already known not to be `*`) sends `url` direct. */
export function bypassed (url: URL, noProxy: string): boolean {
  // `host` keeps IPv6 brackets, as undici compares it.
  const hostname = url.host.replace(/:\d*$/, '').toLowerCase()
  const port = Number.parseInt(url.port, 10) || DEFAULT_PORTS[url.protocol] || 0
  for (const entry of noProxy.split(/[,\s]/)) {
    if (entry === '') continue
    const parsed = /^(.+):(\d+)$/.exec(entry)
    const name = (parsed?.[1] ?? entry).replace(/^\*?\./, '').toLowerCase()
    const entryPort = parsed?.[2] === undefined ? 0 : Number.parseInt(parsed[2], 10)
    if (entryPort !== 0 && entryPort !== port) continue
    if (hostname === name || hostname.endsWith(`.${name}`)) return true
  }
  return false
}
