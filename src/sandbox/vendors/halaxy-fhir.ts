/**
 * The FHIR R4 resources the Halaxy sandbox answers with. Halaxy's page's
 * example is "a request to generate a patient list" at /main/Patient with
 * `Accept: application/fhir+json`; the answers below are the standard shapes
 * for that (a searchset Bundle, a Patient, an OperationOutcome), with
 * made-up people.
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

/** FHIR R4 `Bundle` of type `searchset` over `patients`; `fullUrl` under `base`. */
export function patientBundle (patients: readonly Patient[], base: string): object {
  return {
    resourceType: 'Bundle',
    type: 'searchset',
    total: patients.length,
    link: [{ relation: 'self', url: `${base}/Patient` }],
    entry: patients.map((resource) => ({ fullUrl: `${base}/Patient/${resource.id}`, resource, search: { mode: 'match' } }))
  }
}

/** FHIR R4 `OperationOutcome` with one issue; `code` from the IssueType value set. */
export function operationOutcome (code: 'not-found' | 'throttled' | 'not-supported', diagnostics: string): object {
  return { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code, diagnostics }] }
}
