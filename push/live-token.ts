// Short-lived signed tokens for `GET /v1/live?token=`: browsers cannot set headers on a WebSocket,
// and a long-lived API key must stay out of URLs and access logs. A token names its tenant and
// expiry, signed with a key derived from SECRET_KEY, so any hub holding the secret verifies it
// without a lookup. It is checked once, at connection; a connection outliving it is fine.
import { createHmac, timingSafeEqual } from 'node:crypto'

const PREFIX = 'lt1'
export const DEFAULT_TOKEN_TTL_MS = 5 * 60_000

export interface LiveTokens {
  /** A token for this tenant, valid for the configured time from now. */
  sign(tenant: string): { token: string; expires_at: string }
  /** The tenant a valid, unexpired token names, else undefined. */
  verify(token: string): string | undefined
}

export function createLiveTokens(options: { secretKey: string; ttlMs?: number; now?: () => number }): LiveTokens {
  const ttlMs = options.ttlMs ?? DEFAULT_TOKEN_TTL_MS
  const now = options.now ?? Date.now
  // Its own key: SECRET_KEY also encrypts stored credentials, and a token must never double as one.
  const key = createHmac('sha256', options.secretKey).update('pulse live token v1').digest()
  const mac = (body: string) => createHmac('sha256', key).update(`${PREFIX}.${body}`).digest()

  return {
    sign(tenant) {
      const exp = now() + ttlMs
      const body = Buffer.from(JSON.stringify({ tenant, exp })).toString('base64url')
      return { token: `${PREFIX}.${body}.${mac(body).toString('base64url')}`, expires_at: new Date(exp).toISOString() }
    },
    verify(token) {
      const parts = token.split('.')
      if (parts.length !== 3 || parts[0] !== PREFIX) return undefined
      const given = Buffer.from(parts[2], 'base64url')
      const expected = mac(parts[1])
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined
      try {
        const { tenant, exp } = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8')) as {
          tenant?: unknown
          exp?: unknown
        }
        return typeof tenant === 'string' && typeof exp === 'number' && exp > now() ? tenant : undefined
      } catch {
        return undefined
      }
    },
  }
}

export const isLiveToken = (credential: string) => credential.startsWith(`${PREFIX}.`)
