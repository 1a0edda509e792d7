/**
 * `Location`, `Content-Location` and `Link` URLs that point into the target's
 * base come back in the app's terms, always (issue 16, as nginx's
 * `proxy_redirect default`): an absolute or scheme-relative URL becomes the
 * app's origin + prefix + the rest; a relative or path-absolute one becomes
 * path-absolute under the prefix. Anything outside the base is left as sent.
 * @see RFC 9110 §10.2.2 (Location), §8.7 (Content-Location); RFC 8288 §3 (Link)
 */
import type { IncomingHttpHeaders } from 'node:http'
import type { FastifyRequest } from 'fastify'
import { appOrigin, createBaseMatcher } from './base-url.js'

export type LinkHeaderMapper = (headers: IncomingHttpHeaders, request: FastifyRequest, upstreamPath: string) => void

const SCHEME = /^[A-Za-z][A-Za-z0-9+.-]*:/
/** A link-value's target: `<URI-Reference>` (RFC 8288 §3). */
const LINK_TARGET = /<([^>]*)>/g

/** Built once per upstream. Rewrites the three headers of `headers` in place (a copy tollgate made). */
export function createLinkHeaderMapper (target: URL, appPrefix: string): LinkHeaderMapper {
  const matchBase = createBaseMatcher(target)
  const basePath = target.pathname.replace(/\/+$/, '')

  /** One URL; `origin` is computed only when an absolute URL needs it. */
  function map (url: string, request: FastifyRequest, upstreamPath: string): string {
    if (url.startsWith('//') || SCHEME.test(url)) {
      const at = matchBase(url)
      return at === -1 ? url : `${appOrigin(request)}${appPrefix}${url.slice(at)}` || '/'
    }
    if (url.startsWith('/')) {
      // Byte for byte: the rest is not re-serialised through URL.
      if (!url.startsWith(basePath) || (url.length > basePath.length && !'/?#'.includes(url.charAt(basePath.length)))) return url
      return `${appPrefix}${url.slice(basePath.length)}` || '/'
    }
    // Relative to the URL tollgate requested (RFC 3986 §5.2), e.g. `Patient/1` or `?page=2`.
    let resolved: string
    try {
      resolved = new URL(url, `${target.origin}${upstreamPath}`).href
    } catch {
      return url
    }
    const at = matchBase(resolved)
    return at === -1 ? url : `${appPrefix}${resolved.slice(at)}` || '/'
  }

  function mapLink (value: string, request: FastifyRequest, upstreamPath: string): string {
    return value.includes('<') ? value.replace(LINK_TARGET, (_all, url: string) => `<${map(url, request, upstreamPath)}>`) : value
  }

  return function mapLinkHeaders (headers, request, upstreamPath) {
    const location = headers.location
    if (typeof location === 'string') headers.location = map(location, request, upstreamPath)
    const contentLocation = headers['content-location']
    if (typeof contentLocation === 'string') headers['content-location'] = map(contentLocation, request, upstreamPath)
    const link = headers.link
    if (typeof link === 'string') headers.link = mapLink(link, request, upstreamPath)
    else if (Array.isArray(link)) headers.link = link.map((value) => mapLink(value, request, upstreamPath))
  }
}
