// POST /v1/admin/tenants: create a tenant; the API key is shown once and stored hashed.
import { Hono } from 'hono'
import { z } from 'zod'
import { HttpError, badRequest } from '../common/errors.ts'
import { registerRoute } from '../common/openapi.ts'
import { TenantExistsError, type TenantRegistry, newTenant, requireAdmin } from '../tenants/index.ts'

export const newTenantAnswer = z.object({ id: z.string(), api_key: z.string() })

registerRoute({
  method: 'post',
  path: '/v1/admin/tenants',
  summary: 'Create a tenant; its API key is shown once',
  auth: 'admin',
  body: newTenant,
  status: 201,
  response: newTenantAnswer,
  errors: { 409: 'The id exists' },
})

export function adminRoute(options: { tenants: TenantRegistry; adminToken: string }) {
  return new Hono().post('/v1/admin/tenants', requireAdmin(options.adminToken), async (c) => {
    const body = await c.req.json().catch(() => {
      throw badRequest('body is not JSON')
    })
    const parsed = newTenant.safeParse(body)
    if (!parsed.success)
      throw badRequest(
        'invalid tenant',
        parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })),
      )
    try {
      const { tenant, apiKey } = await options.tenants.create(parsed.data)
      return c.json({ id: tenant.id, api_key: apiKey }, 201)
    } catch (err) {
      if (err instanceof TenantExistsError) throw new HttpError(409, 'conflict', err.message)
      throw err
    }
  })
}
