/**
 * Tokens at rest in Redis are sealed with AES-256-GCM, so a Redis dump, a
 * replica of it or a MONITOR session yields nothing a vendor would accept.
 *
 * The key comes from HKDF-SHA256 (RFC 5869) over
 * - `store.encryptionKey` when set (every replica must have the same), or
 * - by default, the upstream's credential material (token URL, client id,
 *   client secret or private key, scope, ...): every replica that can fetch
 *   the token can read it, and nobody else. The Redis key names carry an
 *   HMAC of the same material under `store.encryptionKey` or the deployment
 *   salt (redis-token-store.ts), which does not help compute this key.
 * `info` binds the key to the credential key, so one upstream's key never
 * opens another's token.
 *
 * Sealed form: `<id>.<lifetimeMs>.<iv>.<tag>.<ciphertext>` (base64url parts).
 * The id and lifetime are in clear so Lua can compare and judge freshness;
 * they are the additional authenticated data, with the Redis key name, so
 * neither can be altered, nor the value moved to another key, unnoticed.
 *
 * @see https://www.rfc-editor.org/rfc/rfc5869 (HKDF)
 * @see https://nvlpubs.nist.gov/nistpubs/Legacy/SP/nistspecialpublication800-38d.pdf (GCM; 96-bit random IVs)
 */
import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from 'node:crypto'

const SALT = 'tollgate/store/token/v1'
const IV_BYTES = 12
const TAG_BYTES = 16

export interface TokenSealer {
  /** A short tag of the key (an HMAC, tells nothing about it): replicas with different keys use different Redis entries. */
  readonly keyId: string
  seal (redisKey: string, id: string, lifetimeMs: number, token: string): string
  /** The token, or undefined when the value is malformed or was sealed under another key. */
  open (redisKey: string, value: string): { readonly id: string, readonly lifetimeMs: number, readonly token: string } | undefined
}

export function createTokenSealer (secret: string, credentialKey: string): TokenSealer {
  const key = Buffer.from(hkdfSync('sha256', secret, SALT, `token:${credentialKey}`, 32))
  const keyId = createHmac('sha256', key).update('key id').digest('base64url').slice(0, 11)
  return {
    keyId,
    seal (redisKey, id, lifetimeMs, token) {
      const life = String(Math.max(0, Math.floor(lifetimeMs)))
      const iv = randomBytes(IV_BYTES)
      const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES })
      cipher.setAAD(Buffer.from(`${redisKey}|${id}|${life}`))
      const sealed = Buffer.concat([cipher.update(token, 'utf8'), cipher.final()])
      return [id, life, iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), sealed.toString('base64url')].join('.')
    },
    open (redisKey, value) {
      const [id, life, iv, tag, sealed, extra] = value.split('.')
      if (id === undefined || life === undefined || iv === undefined || tag === undefined || sealed === undefined || extra !== undefined || !/^\d+$/.test(life)) return undefined
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'), { authTagLength: TAG_BYTES })
        decipher.setAAD(Buffer.from(`${redisKey}|${id}|${life}`))
        decipher.setAuthTag(Buffer.from(tag, 'base64url'))
        const token = Buffer.concat([decipher.update(Buffer.from(sealed, 'base64url')), decipher.final()]).toString('utf8')
        return { id, lifetimeMs: Number(life), token }
      } catch {
        return undefined
      }
    }
  }
}
