/** Small helpers the config resolvers share. */

/** String values under keys that name a secret (password, key, token, secret), at any depth. */
export function collectSecrets (value: unknown, secrets: Set<string>, secretKey = false): void {
  if (typeof value === 'string') {
    if (secretKey && value !== '') secrets.add(value)
  } else if (Array.isArray(value)) {
    for (const item of value) collectSecrets(item, secrets, secretKey)
  } else if (isPlainObject(value)) {
    for (const [key, child] of Object.entries(value)) collectSecrets(child, secrets, secretKey || /password|secret|token|^key$|^pfx$|passphrase/i.test(key))
  }
}

export function safeUrl (value: string): URL | undefined {
  try { return new URL(value) } catch { return undefined }
}

export function isPlainObject (value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
}

/** `{ key: value }` when value is defined, else `{}`: keeps exactOptionalPropertyTypes honest. */
export function optional<K extends string, V> (key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V }
}
