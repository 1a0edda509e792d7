/**
 * Merge order: preset < config file. A preset only fills what the file
 * leaves out; anything set explicitly wins.
 */
import type { ConfigIssue } from './issues.js'
import { PRESET_NAMES, presetDefaults, type PresetName } from './presets.js'

export function applyPreset (upstream: Record<string, unknown>, path: string, issues: ConfigIssue[]): Record<string, unknown> {
  const name = upstream.preset
  if (name === undefined) {
    if (upstream.presetOptions !== undefined) issues.push({ path: `${path}.presetOptions`, message: 'only used with preset' })
    return upstream
  }
  if (typeof name !== 'string' || !(PRESET_NAMES as readonly string[]).includes(name)) {
    issues.push({ path: `${path}.preset`, message: `must be one of ${PRESET_NAMES.join(' | ')}` })
    return upstream
  }
  const auth = isPlainObject(upstream.auth) ? upstream.auth : {}
  const options = isPlainObject(upstream.presetOptions) ? upstream.presetOptions : undefined
  const result = presetDefaults(name as PresetName, options, { target: upstream.target, tokenUrl: auth.tokenUrl })
  for (const issue of result.issues) issues.push({ path: `${path}.${issue.path}`, message: issue.message })
  const merged = mergeDeep(result.defaults as unknown as Record<string, unknown>, upstream)
  for (const required of result.requiredHeaders) {
    if (!hasHeader(merged.headers, required.name)) {
      issues.push({ path: `${path}.headers.${required.name}`, message: `required by preset ${name}: ${required.hint}` })
    }
  }
  return merged
}

function hasHeader (headers: unknown, name: string): boolean {
  if (!isPlainObject(headers)) return false
  const lower = name.toLowerCase()
  return Object.entries(headers).some(([key, value]) => key.toLowerCase() === lower && typeof value === 'string' && value.trim() !== '')
}

/** Objects merge key by key (header names case-insensitively); anything else in `over` replaces `under`. */
function mergeDeep (under: Record<string, unknown>, over: Record<string, unknown>, key = ''): Record<string, unknown> {
  const out: Record<string, unknown> = { ...under }
  if (key === 'headers') {
    for (const name of Object.keys(over)) {
      for (const existing of Object.keys(out)) if (existing.toLowerCase() === name.toLowerCase()) delete out[existing]
    }
  }
  for (const [name, value] of Object.entries(over)) {
    const base = out[name]
    out[name] = isPlainObject(base) && isPlainObject(value) ? mergeDeep(base, value, name) : value
  }
  return out
}

function isPlainObject (value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
}
