// Shopify signs each webhook: X-Shopify-Hmac-Sha256 is the base64 HMAC-SHA256 of the raw body
// with the app's webhook secret. Compared in constant time, on the raw bytes (re-serialised JSON
// would not match).
import { createHmac, timingSafeEqual } from 'node:crypto'

export function validShopifySignature(rawBody: Uint8Array, header: string | undefined, secret: string): boolean {
  if (!header) return false
  const expected = createHmac('sha256', secret).update(rawBody).digest()
  const given = Buffer.from(header.trim(), 'base64')
  return given.length === expected.length && timingSafeEqual(given, expected)
}

export function shopifySignature(rawBody: Uint8Array | string, secret: string): string {
  return createHmac('sha256', secret).update(rawBody).digest('base64')
}
