// POST /v1/live/token: an API key buys a short-lived token for the browser's WebSocket.
import { Hono } from 'hono'
import { type TenantEnv, type TenantRegistry, requireTenant } from '../tenants/index.ts'
import type { LiveTokens } from './live-token.ts'

export function liveTokenRoute(options: { tenants: TenantRegistry; tokens: LiveTokens }) {
  return new Hono<TenantEnv>().post('/v1/live/token', requireTenant(options.tenants), (c) => {
    const { token, expires_at } = options.tokens.sign(c.get('tenant').id)
    c.header('Cache-Control', 'no-store')
    return c.json({ token, expires_at, url: `/v1/live?token=${encodeURIComponent(token)}` })
  })
}
