/**
 * Merge order: preset < config file. A preset only fills what the file
 * leaves out; anything set explicitly wins.
 */
import type { ConfigIssue } from './issues.js'
import { isPresetName, PRESET_NAMES, presetDefaults } from './presets.js'
import { closest } from './suggest.js'

export function applyPreset (upstream: Record<string, unknown>, path: string, issues: ConfigIssue[]): Record<string, unknown> {
  const name = upstream.preset
  if (name === undefined) {
    if (upstream.presetOptions !== undefined) issues.push({ path: `${path}.presetOptions`, message: 'only used with preset' })
    return upstream
  }
  if (!isPresetName(name)) {
    // The value is not quoted: it may be a secret in the wrong field. A close preset name is.
    const guess = typeof name === 'string' ? closest(name, PRESET_NAMES) : undefined
    const list = PRESET_NAMES.join(' | ')
    issues.push({ path: `${path}.preset`, message: guess === undefined ? `unknown preset: must be one of ${list}` : `unknown preset; did you mean ${guess}? (presets: ${list})` })
    return upstream
  }
  const auth = isPlainObject(upstream.auth) ? upstream.auth : {}
  const options = isPlainObject(upstream.presetOptions) ? upstream.presetOptions : undefined
  const result = presetDefaults(name, options, { target: upstream.target, tokenUrl: auth.tokenUrl })
  for (const issue of result.issues) issues.push({ path: `${path}.${issue.path}`, message: issue.message })
  let defaults = result.defaults as unknown as Record<string, unknown>
  if (auth.type === 'none' || auth.type === 'static_bearer') {
    // One conflict, not an issue for each OAuth2 key the preset would fill.
    issues.push({ path: `${path}.auth.type`, message: `${auth.type} does not go with preset ${name}, which signs in with ${result.defaults.auth.type}: remove auth.type to use the preset, or remove preset and set target` })
    const { auth: _presetAuth, ...rest } = defaults
    defaults = rest
  }
  const presetAuth = defaults.auth
  if (isPlainObject(presetAuth) && auth.clientAuth !== undefined && auth.clientAuth !== 'private_key_jwt') {
    // The config's clientAuth wins, and the preset's signingAlg (redox) goes with the method it replaced.
    const { signingAlg: _presetAlg, ...rest } = presetAuth
    defaults = { ...defaults, auth: rest }
  }
  const merged = mergeDeep(defaults, upstream)
  for (const required of result.requiredHeaders) {
    if (!hasHeader(merged.headers, required.name)) {
      issues.push({ path: `${path}.headers.${required.name}`, message: `required by preset ${name}: ${required.hint}` })
    }
  }
  const mergedAuth = isPlainObject(merged.auth) ? merged.auth : {}
  for (const required of result.requiredAuth) {
    if (mergedAuth.clientAuth === required.with && mergedAuth[required.key] === undefined) {
      issues.push({ path: `${path}.auth.${required.key}`, message: `required by preset ${name}: ${required.hint}` })
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
