/**
 * The FHIR searchset Bundles the fhir scenario serves: Patients as FHIR
 * servers such as HAPI write them (fields in FHIR's order, plain `/`, no
 * white space, about 700 bytes each): the entry's `fullUrl` absolute under
 * the server's base (the one locator to rewrite), references relative
 * (`Practitioner/...`, as servers store them), and an identifier `system` on
 * the server's host but outside its FHIR base, which must stay as it is.
 */

/** One entry, `i` making it differ from its neighbours. */
export function entryJson (base: string, i: number): string {
  const origin = new URL(base).origin
  return `{"fullUrl":"${base}/Patient/bench-${i}","resource":{"resourceType":"Patient","id":"bench-${i}",` +
    `"meta":{"versionId":"1","lastUpdated":"2026-11-30T09:${String(i % 60).padStart(2, '0')}:00.000+00:00"},` +
    `"identifier":[{"system":"${origin}/ns/mrn","value":"MRN-${100_000 + i}"}],"active":${i % 5 !== 0},` +
    `"name":[{"use":"official","family":"Citizen-${i % 211}","given":["Jane","Q"]}],"telecom":[{"system":"phone","value":"0491 570 ${String(i % 1000).padStart(3, '0')}","use":"mobile"}],` +
    `"gender":"${i % 2 === 0 ? 'female' : 'male'}","birthDate":"19${50 + (i % 50)}-04-12",` +
    `"address":[{"line":["${i % 300} Example Street"],"city":"Sydney","state":"NSW","postalCode":"2000","country":"AU"}],` +
    `"generalPractitioner":[{"reference":"Practitioner/gp-${i % 7}"}],"managingOrganization":{"reference":"Organization/org-1"}},` +
    '"search":{"mode":"match"}}'
}

/** Locators under the base per entry (its fullUrl), and in the Bundle's head (its `self` and `next` links). */
export const LOCATORS_PER_ENTRY = 1
export const LOCATORS_IN_HEAD = 2

export function bundleHead (base: string, total: number): string {
  return `{"resourceType":"Bundle","type":"searchset","total":${total},"link":[{"relation":"self","url":"${base}/Patient?_count=${total}"},` +
    `{"relation":"next","url":"${base}?_getpages=8e1f0c2a-5b7d-4c1e-9f3a-2d6b8a4e7c10&_getpagesoffset=${total}&_count=${total}&_bundletype=searchset"}],"entry":[`
}

export const BUNDLE_TAIL = ']}'

/** A whole Bundle of `entries` Patients. */
export function searchsetBundle (base: string, entries: number): Buffer {
  const parts = [bundleHead(base, entries)]
  for (let i = 0; i < entries; i++) parts.push(i === 0 ? entryJson(base, i) : `,${entryJson(base, i)}`)
  parts.push(BUNDLE_TAIL)
  return Buffer.from(parts.join(''))
}

/** What the vendor reports of the last Bundle it streamed: bytes and locators written, and when (epoch ms). */
export interface StreamedBundle {
  bytes: number
  locators: number
  firstWrittenAt: number
  lastWrittenAt: number
  /** The last byte was handed to the socket. */
  complete: boolean
}
