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
 * How a base may be written at the start of a JSON string, so a scan can
 * look for it in raw text without decoding every string (issue 16).
 */
export interface BaseSpellings {
  /**
   * Global, from the first character after the string's opening quote (not
   * included: a pattern that starts with a character as common as `"` is
   * searched for slowly): the base with `/` written
   * plainly, as `\/` or as `\u002f`, the scheme and host in any case, a
   * default port written or not, the scheme left out or not; and then `/`,
   * `?`, `#` or the string's end, plainly or escaped. A spelling with any
   * other escape in it is only found by decoding (`BaseMatcher`).
   */
  readonly pattern: RegExp
  /** The decoded spellings, lower-cased up to `folded` (scheme and host compare case-insensitively; the path exactly). */
  readonly decoded: ReadonlyArray<{ readonly text: string, readonly folded: number }>
}

/** `/` as JSON may write it. */
const SLASH = String.raw`(?:\/|\\\/|\\u002[fF])`
/** What may follow a base: `/`, `?`, `#`, the string's end; or one of them escaped. */
const BOUNDARY = String.raw`(?=[\/?#"]|\\\/|\\u00(?:2[fF]|23|3[fF]))`

export function createBaseSpellings (base: URL): BaseSpellings {
  const scheme = base.protocol.slice(0, -1)
  const host = base.hostname.toLowerCase()
  const defaultPort = DEFAULT_PORTS[base.protocol]
  const port = base.port === defaultPort ? '' : base.port
  const path = base.pathname.replace(/\/+$/, '')
  const portPattern = port !== '' ? `:${port}` : defaultPort === undefined ? '' : `(?::${defaultPort})?`
  const source = `(?:${anyCase(scheme)}:)?${SLASH}${SLASH}${anyCase(host)}${portPattern}` +
    [...path].map((char) => char === '/' ? SLASH : escapeRegExp(char)).join('') + BOUNDARY
  const authorities = port !== '' ? [`${host}:${port}`] : defaultPort === undefined ? [host] : [host, `${host}:${defaultPort}`]
  const decoded = authorities.flatMap((authority) => [`${scheme}://${authority}`, `//${authority}`])
    .map((prefix) => ({ text: prefix + path, folded: prefix.length }))
  return { pattern: new RegExp(source, 'g'), decoded }
}

/** Whether `text` (a decoded string so far) may still turn out to start with the base: it is the start of a spelling, or all of one. */
export function mayStartBase (spellings: BaseSpellings, text: string): boolean {
  return spellings.decoded.some(({ text: spelling, folded }) => {
    if (text.length > spelling.length) return false
    for (let i = 0; i < text.length; i++) {
      const char = i < folded ? text[i]?.toLowerCase() : text[i]
      if (char !== spelling[i]) return false
    }
    return true
  })
}

function anyCase (text: string): string {
  return [...text].map((char) => char.toLowerCase() !== char.toUpperCase() ? `[${char.toLowerCase()}${char.toUpperCase()}]` : escapeRegExp(char)).join('')
}

function escapeRegExp (text: string): string {
  return text.replace(/[\\^$.*+?()[\]{}|/-]/g, '\\$&')
}
