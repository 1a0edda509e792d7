/**
 * Property-based: hostile request targets, written byte for byte on a socket,
 * against a sidecar with two upstreams (`/a` → origin A under `/base`, `/b` →
 * origin B at its root) and a third origin C that is in no config.
 *
 * Properties, for every generated target:
 * - the sidecar answers, or closes the connection cleanly, and still answers
 *   /healthz afterwards;
 * - no answer is a 5xx (the origins are healthy: anything wrong is the client's);
 * - origin C records nothing;
 * - every path origin A records stays under `/base`, however the origin reads
 *   it (as sent, percent-decoded once, backslashes as slashes, `;params` cut);
 * - a target whose path would climb above its prefix, or that hides a
 *   dot-segment behind an encoded slash, holds a backslash or `%00` (the
 *   policy in docs/config.md) reaches no origin and gets a 400;
 * - a target that is forwarded reaches exactly one origin, with the path
 *   normalised as documented and the query byte for byte.
 */
import { test, type TestContext } from 'node:test'
import fc from 'fast-check'
import { exchange, isUnder, originReadings, pathPart, startHostileRig, HOSTILE_BASE, type Exchange, type HostileRig as Rig } from '../helpers/hostile.js'

const BASE = HOSTILE_BASE
/** What a client may be told when its own input is at fault; 200 is origin A's or B's echo. */
const CLIENT_FAULT = new Set([400, 404, 413, 414, 431])

const rig = async (t: TestContext): Promise<Rig> => await startHostileRig(t)

/** Path segments an attacker would try, plus plain ones so that some requests do get through. */
function segments (cPort: number): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom('x', 'y', 'Patient', '123', '', 'a.b', '...', 'v1..', '.well-known') },
    {
      weight: 6,
      arbitrary: fc.constantFrom(
        '.', '..', '%2e', '%2E', '%2e%2e', '%2E%2E', '%2e%2E', '.%2e', '%2e.', '.%2E', '%2E.',
        '%2f', '%2F', '%5c', '%5C', '\\', '..%2f', '..%2F', '%2f..', '%2F..', '..%5c', '%5c..', '..%5C', '..\\', '\\..',
        'a%2fb', 'a%2F..%2Fb', '%2e%2e%2f', '%2e%2e%5c', '%252e%252e', '%252f', '%25', '%', '%zz', '%0', '%00', '%2500',
        '..;', ';', '..;x', ';/..', '%c0%ae%c0%ae', '%u002e%u002e', '#', '#..', '..#', 'x#/..', '%23', '%3f', '%3F..',
        '%20', '+', '~', '%61', 'C:', `127.0.0.1:${cPort}`, `@127.0.0.1:${cPort}`, 'http:', 'evil.example'
      )
    },
    // Free mixtures of the characters that matter to normalisation.
    { weight: 2, arbitrary: fc.string({ unit: fc.constantFrom('.', '%', '2', 'e', 'E', 'f', 'F', '5', 'c', '\\', ';', '#'), maxLength: 8 }) },
    // Bytes that must never make it into a request line: NUL, other controls, DEL, space, CR/LF (injection), non-ASCII.
    { weight: 1, arbitrary: fc.constantFrom('\x00', '\x01', '\x1f', '\x7f', ' ', '\t', '\r', '\n', '\r\nX-Injected: 1\r\n', 'x HTTP/1.1\r\nX-Injected: 1\r\nY:', '\xff', '\xc3\xa9') }
  )
}

function prefixes (): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 8, arbitrary: fc.constantFrom('/a', '/b') },
    { weight: 2, arbitrary: fc.constantFrom('', '/', '//a', '/A', '/ab', '/%61', '/a%2f', '/a%2F', '/a\\', '/a;', '/a.', '/./a', '/../a', '/%2e%2e/a', '/c', '/healthz', '/status', '/metrics/..') }
  )
}

function queries (cPort: number): fc.Arbitrary<string> {
  const piece = fc.constantFrom('a=1', 'b', '..', '../..', '/../../x', '%2e%2e%2f', '%0d%0aX-Injected:%201', '%00', '&', '=', '?', '#x', '\\', `http://127.0.0.1:${cPort}/`, '%zz', 'a=%', '\r\nX-Injected: 1', ' ', '\x00')
  return fc.oneof({ weight: 3, arbitrary: fc.constant('') }, { weight: 2, arbitrary: fc.array(piece, { minLength: 0, maxLength: 4 }).map((parts) => `?${parts.join('')}`) })
}

/** Absolute-form, authority-form and asterisk-form targets, several aimed at origin C. */
function otherForms (rigPorts: { a: number, c: number }): fc.Arbitrary<string> {
  const { a, c } = rigPorts
  return fc.constantFrom(
    `http://127.0.0.1:${c}/x`, `http://127.0.0.1:${c}/a/x`, `https://127.0.0.1:${c}/x`, `HTTP://127.0.0.1:${c}/x`,
    `http://127.0.0.1:${a}${BASE}/../x`, `http://localhost:${c}/`, `127.0.0.1:${c}`, `//127.0.0.1:${c}/x`,
    `/a/http://127.0.0.1:${c}/x`, `/b//127.0.0.1:${c}/x`, `/b/..//127.0.0.1:${c}/x`, '*', `ws://127.0.0.1:${c}/`
  )
}

/**
 * The documented refusal policy (docs/config.md, "Normalisation"), for an
 * origin-form target under /a or /b: true when it must be a 400 that reaches
 * no origin. Written from the docs, not from normalize-path.ts.
 */
function mustRefuse (target: string): boolean {
  const path = pathPart(target)
  const prefix = ['/a', '/b'].find((p) => path === p || path.startsWith(`${p}/`))
  if (prefix === undefined) return false
  const suffix = path.slice(prefix.length)
  if (suffix.includes('\\') || /%00/.test(suffix)) return true
  // RFC 9112 §3.2: a request target has no fragment. What follows '#' is no path to resolve or forward.
  if (suffix.includes('#')) return true
  const isDots = (piece: string): number => {
    const plain = piece.replace(/%2e/gi, '.')
    return plain === '.' ? 1 : plain === '..' ? 2 : 0
  }
  let depth = 0
  for (const segment of suffix.split('/').slice(1)) {
    const pieces = segment.split(/%2f|%5c/i)
    if (pieces.length > 1) {
      if (pieces.some((piece) => isDots(piece) !== 0)) return true
      depth++
    } else if (isDots(segment) === 2) {
      if (depth === 0) return true
      depth--
    } else if (isDots(segment) === 0) {
      depth++
    }
  }
  return false
}

/** Where a forwarded target must land: base + the resolved suffix, as a URL serialises it, + the query as sent. */
function expectedForward (target: string, base: string): string {
  const path = pathPart(target)
  const query = target.slice(path.length)
  const out: string[] = []
  const parts = path.slice(2).split('/').slice(1)
  parts.forEach((segment, index) => {
    const plain = segment.replace(/%2e/gi, '.')
    if (plain === '..') out.pop()
    else if (plain !== '.') out.push(segment)
    if ((plain === '.' || plain === '..') && index === parts.length - 1) out.push('')
  })
  const resolved = `${base}${out.length === 0 ? '' : `/${out.join('/')}`}` || '/'
  // Concatenated, not resolved against a base: a leading '//' is a path here, not an authority.
  return new URL(`http://origin.invalid${resolved}`).pathname + query
}

/**
 * A target with a NUL, another control byte, DEL, a space or a non-ASCII byte
 * is not a valid request line (RFC 9112 §3.2): it must not be forwarded. A
 * raw CR LF is different: what follows it is a header line the client wrote
 * itself, so such a target is judged by the other properties only.
 */
function unparseable (target: string): boolean {
  // Trailing spaces only widen the gap before the version, which Node tolerates.
  return [...target.replace(/ +$/, '')].some((char) => char <= ' ' || char >= '\x7f')
}

function describe (target: string, ex: Exchange): string {
  return `${JSON.stringify(target)} → ${ex.final?.status ?? ex.ended} ${ex.final?.body.slice(0, 200) ?? ''}`
}

async function healthy (url: string): Promise<boolean> {
  const res = await fetch(`${url}/healthz`)
  await res.arrayBuffer()
  return res.status === 200
}

interface Seen { a: number, b: number, c: number }
const seen = (r: Rig): Seen => ({ a: r.a.requests.length, b: r.b.requests.length, c: r.c.requests.length })

/** The checks every case must pass, whatever the target. */
async function checkCommon (t: TestContext, r: Rig, target: string, ex: Exchange, before: Seen): Promise<void> {
  const why = describe(target, ex)
  t.assert.notStrictEqual(ex.ended, 'timeout', `no answer and no close: ${why}`)
  if (ex.final !== undefined) {
    t.assert.ok(ex.final.status === 200 || CLIENT_FAULT.has(ex.final.status), `unexpected status: ${why}`)
  }
  t.assert.strictEqual(r.c.requests.length, before.c, `origin C, in no config, was reached: ${why}`)
  for (const recorded of r.a.requests.slice(before.a)) {
    for (const reading of originReadings(pathPart(recorded.url))) {
      t.assert.ok(isUnder(reading, BASE), `origin A saw ${JSON.stringify(recorded.url)}, read as ${JSON.stringify(reading)}, outside ${BASE}: ${why}`)
    }
  }
  t.assert.ok(await healthy(r.url), `/healthz failed after ${why}`)
}

test('origin-form targets: traversal, encodings, slashes, controls — contained, refused by policy, never a 5xx', async (t: TestContext) => {
  const r = await rig(t)
  const cPort = Number(new URL(r.c.url).port)
  const target = fc.tuple(prefixes(), fc.array(segments(cPort), { minLength: 0, maxLength: 6 }), queries(cPort), fc.constantFrom('GET', 'DELETE', 'OPTIONS'))
  await fc.assert(fc.asyncProperty(target, async ([prefix, parts, query, method]) => {
    const path = `${prefix}${parts.map((part) => `/${part}`).join('')}`
    const requestTarget = `${path === '' ? '/' : path}${query}`
    const before = seen(r)
    const ex = await exchange(r.port, `${method} ${requestTarget} HTTP/1.1\r\nHost: 127.0.0.1:${r.port}\r\nConnection: close\r\n\r\n`)
    await checkCommon(t, r, requestTarget, ex, before)
    const reached = r.a.requests.length - before.a + r.b.requests.length - before.b
    const why = describe(requestTarget, ex)
    if (!/[\r\n]/.test(requestTarget)) {
      const injected = [...r.a.requests.slice(before.a), ...r.b.requests.slice(before.b)].filter((recorded) => recorded.headers['x-injected'] !== undefined)
      t.assert.strictEqual(injected.length, 0, `an encoded CR LF became a header upstream: ${why}`)
    }
    if (!/[\r\n]/.test(requestTarget) && (mustRefuse(requestTarget) || unparseable(requestTarget))) {
      t.assert.strictEqual(reached, 0, `refused by policy, yet forwarded: ${why}`)
      t.assert.ok(ex.final === undefined || ex.final.status === 400 || ex.final.status === 404, `refused by policy, not a 400: ${why}`)
    }
    // A 200 for /healthz, /status or /metrics is the sidecar's own; any other 200 came from an origin.
    const routed = ['/a', '/b'].some((prefix) => path === prefix || path.startsWith(`${prefix}/`))
    if (ex.final?.status === 200 && routed) {
      t.assert.strictEqual(reached, 1, `one request in, ${reached} out: ${why}`)
      const toA = r.a.requests.length > before.a
      const recorded = toA ? r.a.requests.at(-1) : r.b.requests.at(-1)
      // Only for a clean target: a raw CR LF ends the target early, and a fragment is no part of the request.
      if (/^[\x21-\x7e]+$/.test(requestTarget) && !requestTarget.includes('#')) {
        t.assert.strictEqual(recorded?.url, expectedForward(requestTarget, toA ? BASE : ''), `forwarded path: ${why}`)
      }
    }
  }), { numRuns: 300, includeErrorInReport: true })
})

test('absolute-form, authority-form and asterisk targets never reach any origin, and C least of all', async (t: TestContext) => {
  const r = await rig(t)
  const forms = otherForms({ a: Number(new URL(r.a.url).port), c: Number(new URL(r.c.url).port) })
  await fc.assert(fc.asyncProperty(forms, fc.constantFrom('GET', 'POST', 'OPTIONS'), async (target, method) => {
    const before = seen(r)
    const ex = await exchange(r.port, `${method} ${target} HTTP/1.1\r\nHost: 127.0.0.1:${r.port}\r\nConnection: close\r\n\r\n`)
    await checkCommon(t, r, target, ex, before)
    if (!target.startsWith('/')) {
      t.assert.strictEqual(r.a.requests.length + r.b.requests.length, before.a + before.b, `a non-origin-form target was forwarded: ${describe(target, ex)}`)
      t.assert.strictEqual(ex.final?.status, 400, describe(target, ex))
    }
  }), { numRuns: 60, includeErrorInReport: true })
})

test('a Host header naming origin C changes nothing: the request goes to the configured target', async (t: TestContext) => {
  t.plan(4)
  const r = await rig(t)
  const cHost = new URL(r.c.url).host
  const ex = await exchange(r.port, `GET /b/x HTTP/1.1\r\nHost: ${cHost}\r\nConnection: close\r\n\r\n`)
  t.assert.strictEqual(ex.final?.status, 200, describe('/b/x', ex))
  t.assert.strictEqual(r.c.requests.length, 0)
  t.assert.strictEqual(r.b.requests[0]?.headers.host, new URL(r.b.url).host, 'Host is the target\'s, not the app\'s')
  t.assert.strictEqual(r.b.requests[0]?.url, '/x')
})

// Found by the first property. Fastify's router stops reading the path at '#', so a malformed
// escape after it (`%zz`, a lone `%`) is never judged there; reply-from's decodeURIComponent then
// throws a URIError, which becomes a 500. And what follows '#' is resolved as if it were path:
// `/a/x#/../y` was sent to the origin as `/base/y`. RFC 9112 §3.2: a request target has no fragment.
test('a fragment in the request target is a 400 that reaches no origin, never a 500', async (t: TestContext) => {
  const targets = ['/a/x#%zz', '/a/#/%', '/b/x#%', '/a/x#frag', '/a/x#/../y', '/a/x/..#/..']
  t.plan(targets.length * 3 + 1)
  const r = await rig(t)
  for (const target of targets) {
    const ex = await exchange(r.port, `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1:${r.port}\r\nConnection: close\r\n\r\n`)
    t.assert.strictEqual(ex.final?.status, 400, describe(target, ex))
    t.assert.strictEqual(ex.final?.headers['content-type'], 'application/problem+json; charset=utf-8', target)
    t.assert.strictEqual((JSON.parse(ex.final?.body ?? '{}') as { status?: number }).status, 400, target)
  }
  t.assert.deepStrictEqual([...r.a.requests, ...r.b.requests].map((recorded) => recorded.url), [], 'nothing forwarded')
})
