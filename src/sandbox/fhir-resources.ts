/**
 * The FHIR R4 resources the sandbox's FHIR APIs (Halaxy's, Redox's) answer
 * with. Halaxy's page's example is "a request to generate a patient list" at
 * /main/Patient with `Accept: application/fhir+json`; the answers below are
 * the standard shapes for that (a searchset Bundle, a Patient, an
 * OperationOutcome), with made-up people.
 */

export const FHIR_JSON = 'application/fhir+json; charset=utf-8'

export interface Patient {
  readonly resourceType: 'Patient'
  readonly id: string
  readonly active: boolean
  readonly name: ReadonlyArray<{ readonly use: 'official', readonly family: string, readonly given: readonly string[] }>
  readonly gender: 'female' | 'male' | 'other' | 'unknown'
  readonly birthDate: string
}

export const PATIENTS: readonly Patient[] = [
  { resourceType: 'Patient', id: 'sandbox-patient-1', active: true, name: [{ use: 'official', family: 'Citizen', given: ['Jane'] }], gender: 'female', birthDate: '1980-04-12' },
  { resourceType: 'Patient', id: 'sandbox-patient-2', active: true, name: [{ use: 'official', family: 'Nguyen', given: ['Minh'] }], gender: 'male', birthDate: '1975-11-30' },
  { resourceType: 'Patient', id: 'sandbox-patient-3', active: false, name: [{ use: 'official', family: 'Okafor', given: ['Ada', 'Chioma'] }], gender: 'female', birthDate: '1992-07-03' }
]

/** A stored resource: any FHIR resource with its type and id. */
export interface Resource {
  readonly resourceType: string
  readonly id: string
  readonly [field: string]: unknown
}

/** The page size when `_count` is absent, and the most one page holds (FHIR R4 §3.1.1.5.7: the server may cap `_count`). */
export const DEFAULT_COUNT = 50
export const MAX_COUNT = 100

/**
 * FHIR R4 `Bundle` of type `searchset`: page `page` (1-based) of `count`
 * over `resources`, with absolute `self`, `first`, and `next` / `previous`
 * links where there is such a page, and each `fullUrl` under `base`
 * (as FHIR servers answer: absolute URLs of their own base).
 */
export function searchBundle (type: string, resources: readonly Resource[], base: string, count: number, page: number): object {
  const pageUrl = (n: number): string => `${base}/${type}?_count=${count}&page=${n}`
  const last = Math.max(1, Math.ceil(resources.length / count))
  const link = [{ relation: 'self', url: pageUrl(page) }, { relation: 'first', url: pageUrl(1) }]
  if (page > 1) link.push({ relation: 'previous', url: pageUrl(Math.min(page - 1, last)) })
  if (page < last) link.push({ relation: 'next', url: pageUrl(page + 1) })
  const slice = resources.slice((page - 1) * count, page * count)
  return {
    resourceType: 'Bundle',
    type: 'searchset',
    total: resources.length,
    link,
    entry: slice.map((resource) => ({ fullUrl: `${base}/${type}/${resource.id}`, resource, search: { mode: 'match' } }))
  }
}

/** FHIR R4 `OperationOutcome` with one issue; `code` from the IssueType value set. */
export function operationOutcome (code: 'not-found' | 'throttled' | 'not-supported' | 'invalid' | 'too-costly', diagnostics: string): object {
  return { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code, diagnostics }] }
}
