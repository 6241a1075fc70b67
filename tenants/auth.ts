// Bearer-token middleware shared by every tenant route (HTTP here, WebSocket in push/).
import { createMiddleware } from 'hono/factory'
import { HttpError, unauthorized } from '../common/errors.ts'
import { sameSecret } from './api-keys.ts'
import type { TenantRegistry } from './registry.ts'
import type { Tenant } from './tenant.ts'

export type TenantEnv = { Variables: { tenant: Tenant } }

export function bearerToken(header: string | undefined | null): string | undefined {
  const match = /^Bearer\s+(\S+)$/i.exec(header ?? '')
  return match?.[1]
}

export function requireTenant(tenants: TenantRegistry) {
  return createMiddleware<TenantEnv>(async (c, next) => {
    const key = bearerToken(c.req.header('authorization'))
    if (!key) throw unauthorized('missing Authorization: Bearer <api key>')
    const tenant = await tenants.authenticate(key)
    if (!tenant) throw unauthorized('invalid API key')
    c.set('tenant', tenant)
    await next()
  })
}

export function requireAdmin(adminToken: string) {
  return createMiddleware(async (c, next) => {
    const token = bearerToken(c.req.header('authorization'))
    if (!token || !sameSecret(token, adminToken))
      throw new HttpError(401, 'unauthorized', 'missing or invalid admin token')
    await next()
  })
}
