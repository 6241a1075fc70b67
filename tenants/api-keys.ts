// API keys and secret comparison. Keys are stored only as SHA-256 hashes (they are 256-bit random,
// so a slow hash adds nothing).
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'

/** A fresh key for a tenant; the tenant id in it only helps a person tell keys apart. */
export const newApiKey = (tenantId: string) => `pk_${tenantId}_${randomBytes(24).toString('base64url')}`

export const hashApiKey = (apiKey: string) => createHash('sha256').update(apiKey).digest('hex')

/** Constant-time comparison of two secrets of any length. */
export function sameSecret(a: string, b: string): boolean {
  return timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest())
}
