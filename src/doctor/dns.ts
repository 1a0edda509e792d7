/**
 * The `dns` step: the host name to addresses, with the same resolver a
 * connection would use (node:dns `lookup`, i.e. getaddrinfo: /etc/hosts,
 * nsswitch, the system's DNS). Tests inject a lookup of their own.
 */
import { lookup as systemLookup, type LookupAddress } from 'node:dns'
import { isIP, type LookupFunction } from 'node:net'
import { fail, ok, type StepOutcome } from './step.js'

export const defaultLookup: LookupFunction = systemLookup as LookupFunction

export interface Resolved {
  readonly outcome: StepOutcome
  /** Empty when the step failed. */
  readonly addresses: readonly LookupAddress[]
}

/** What getaddrinfo's failures mean, in words (node:dns error codes). */
const LOOKUP_ERRORS: Readonly<Record<string, string>> = {
  ENOTFOUND: 'no such host',
  ENODATA: 'the name has no address records',
  EAI_AGAIN: 'the lookup failed for now (DNS server unreachable?)',
  ESERVFAIL: 'the DNS server failed to answer',
  EREFUSED: 'the DNS server refused the query',
  ETIMEOUT: 'the DNS server did not answer',
  ECONNREFUSED: 'the DNS server refused the connection'
}

/**
 * Resolves `host` (a URL hostname: IPv6 in brackets). An IP address needs
 * no lookup and passes as it is. `note` is appended to a success (e.g. who
 * resolves the real target behind a proxy); `hint` to a failure.
 */
export async function resolveHost (host: string, options: { lookup: LookupFunction, timeoutMs: number, note?: string, hint?: string }): Promise<Resolved> {
  const bare = host.replace(/^\[(.*)\]$/, '$1')
  const note = options.note === undefined ? '' : `; ${options.note}`
  const family = isIP(bare)
  if (family !== 0) return { outcome: ok(`${bare} is an IP address (no lookup)${note}`), addresses: [{ address: bare, family }] }
  const started = performance.now()
  try {
    const addresses = await withTimeout(lookupAll(options.lookup, bare), options.timeoutMs)
    if (addresses.length === 0) return { outcome: fail(`${bare}: the lookup returned no address`), addresses: [] }
    const ms = Math.round(performance.now() - started)
    return { outcome: ok(`${bare} → ${addresses.map((a) => a.address).join(', ')} (${ms} ms)${note}`), addresses }
  } catch (err) {
    const hint = options.hint === undefined ? '' : `; ${options.hint}`
    if (err instanceof TimeoutError) return { outcome: fail(`${bare}: no answer within ${options.timeoutMs} ms${hint}`), addresses: [] }
    const code = (err as NodeJS.ErrnoException).code
    const words = code === undefined ? undefined : LOOKUP_ERRORS[code]
    return { outcome: fail(`${bare}: ${words ?? 'lookup failed'}${code === undefined ? '' : ` (${code})`}${hint}`), addresses: [] }
  }
}

function lookupAll (lookup: LookupFunction, host: string): Promise<LookupAddress[]> {
  return new Promise((resolve, reject) => {
    lookup(host, { all: true }, (err, addresses) => {
      if (err !== null) reject(err)
      else resolve(Array.isArray(addresses) ? addresses : [{ address: addresses, family: isIP(addresses) }])
    })
  })
}

class TimeoutError extends Error {}

/** getaddrinfo cannot be cancelled: on a timeout the step moves on and the lookup finishes unheard. */
function withTimeout<T> (work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => { reject(new TimeoutError()) }, ms).unref()
  })
  return Promise.race([work, timeout]).finally(() => { clearTimeout(timer) })
}
