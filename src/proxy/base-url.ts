/**
 * "Does this URL point into that base?", the one question behind every link
 * tollgate gives back in the app's terms (issue 16): a URL is inside a base
 * when it starts with the base followed by `/`, `?`, `#` or its end, the
 * scheme and host compared case-insensitively and a default port equal to
 * none (RFC 3986 §6.2.2.1, §6.2.3). `…/main2` is not inside `…/main`.
 */
import type { FastifyRequest } from 'fastify'

/**
 * The length of the part of `url` that names the base (the rest follows it
 * unchanged), or -1 when `url` is not inside the base. A scheme-relative
 * `//host/…` counts as the base's own scheme.
 */
export type BaseMatcher = (url: string) => number

const DEFAULT_PORTS: Readonly<Record<string, string>> = { 'http:': '80', 'https:': '443' }

/** Built once per base: the parts compared, lower-cased, and the path without its trailing slash. */
export function createBaseMatcher (base: URL): BaseMatcher {
  const scheme = base.protocol.slice(0, -1)
  const host = base.hostname.toLowerCase()
  const port = base.port === DEFAULT_PORTS[base.protocol] ? '' : base.port
  const defaultPort = DEFAULT_PORTS[base.protocol]
  const path = base.pathname.replace(/\/+$/, '')
  return function matchBase (url) {
    let start: number
    if (url.startsWith('//')) {
      start = 2
    } else {
      const colon = url.indexOf('://')
      if (colon !== scheme.length || url.slice(0, colon).toLowerCase() !== scheme) return -1
      start = colon + 3
    }
    let end = start
    while (end < url.length && !isAuthorityEnd(url.charCodeAt(end))) end++
    const authority = url.slice(start, end)
    if (authority.includes('@')) return -1
    const portAt = authority.lastIndexOf(':')
    const hasPort = portAt !== -1 && !authority.slice(portAt).includes(']')
    const urlHost = hasPort ? authority.slice(0, portAt) : authority
    const urlPort = hasPort ? authority.slice(portAt + 1) : ''
    if (urlHost.toLowerCase() !== host) return -1
    if (urlPort !== port && !(port === '' && (urlPort === '' || urlPort === defaultPort))) return -1
    if (!url.startsWith(path, end)) return -1
    const after = end + path.length
    return after === url.length || isAuthorityEnd(url.charCodeAt(after)) ? after : -1
  }
}

/** `/`, `?` or `#`: where an authority ends, and what may follow a base path. */
function isAuthorityEnd (code: number): boolean {
  return code === 0x2f || code === 0x3f || code === 0x23
}

/**
 * Where the app reached tollgate, as `http://host[:port]`: the request's
 * `Host`, or, when it sent none (HTTP/1.0), the address and port it connected
 * to. Never a guess from config: a sidecar reached through a Service name
 * hands back that name.
 */
export function appOrigin (request: FastifyRequest): string {
  const host = request.headers.host
  if (host !== undefined && host !== '') return `http://${host}`
  const socket = request.raw.socket
  const address = socket.localAddress ?? '127.0.0.1'
  return `http://${address.includes(':') ? `[${address}]` : address}:${socket.localPort ?? 80}`
}

/**
 * The same question asked of raw JSON string bytes, without decoding them:
 * the length of the bytes from `start` that spell the base, or -1 when they
 * do not spell it plainly (an escape in it, or another URL). Callers fall
 * back to `BaseMatcher` on the decoded text when the bytes hold an escape.
 */
export type ByteMatcher = (bytes: Buffer, start: number, end: number) => number

/** Built once per base: the spellings a base may take (with and without a default port, scheme-relative), lower-cased. */
export function createByteMatcher (base: URL): ByteMatcher {
  const scheme = base.protocol.slice(0, -1)
  const host = base.hostname.toLowerCase()
  const defaultPort = DEFAULT_PORTS[base.protocol]
  const port = base.port === defaultPort ? '' : base.port
  const path = base.pathname.replace(/\/+$/, '')
  const authorities = port !== '' ? [`${host}:${port}`] : defaultPort === undefined ? [host] : [host, `${host}:${defaultPort}`]
  const spellings = authorities.flatMap((authority) => [`${scheme}://${authority}`, `//${authority}`]).map((prefix) => ({
    bytes: Buffer.from(prefix + path, 'latin1'),
    /** Scheme and host compare case-insensitively; the path exactly. */
    folded: prefix.length
  }))
  return function matchBytes (bytes, start, end) {
    for (const { bytes: spelling, folded } of spellings) {
      const length = spelling.length
      if (end - start < length) continue
      let k = 0
      for (; k < length; k++) {
        let byte = bytes[start + k] as number
        if (k < folded && byte >= 0x41 && byte <= 0x5a) byte |= 0x20
        if (byte !== spelling[k]) break
      }
      if (k < length) continue
      const next = start + length
      if (next === end || isAuthorityEnd(bytes[next] as number)) return length
    }
    return -1
  }
}
