// What a tenant is: the id rule, the fields an operator gives at creation (a zod schema, the single
// source of the type) and the narrower view the stages that only compute need.
import { IANAZone } from 'luxon'
import { z } from 'zod'
import { isCurrency } from '../common/money.ts'

/**
 * The one rule for tenant ids. Ids go into NATS subjects, KV keys, ClickHouse user names and SQL
 * string literals, so nothing in one may need escaping there.
 */
const TENANT_ID = /^[a-z0-9][a-z0-9-]{0,62}$/

export const isTenantId = (id: string): boolean => TENANT_ID.test(id)

export const tenantId = z
  .string()
  .regex(TENANT_ID, 'expected 1-63 lower-case letters, digits or -, starting with a letter or digit')

/** The longest Shopify shop domain a tenant may register (and that a webhook is looked up by). */
export const MAX_SHOP_DOMAIN = 255

export const newTenant = z.object({
  id: tenantId,
  name: z.string().min(1).max(200),
  timezone: z.string().refine((tz) => IANAZone.isValidZone(tz), 'expected an IANA timezone such as Asia/Kolkata'),
  currency: z.string().refine(isCurrency, 'expected an ISO 4217 currency code such as INR'),
  shopify: z
    .object({ shop_domain: z.string().min(1).max(MAX_SHOP_DOMAIN), webhook_secret: z.string().min(1).max(500) })
    .optional(),
})
export type NewTenant = z.infer<typeof newTenant>

/** A tenant as the registry stores it. */
export interface Tenant extends NewTenant {
  created_at: string
}

/** What computing a tenant's figures needs: which tenant, its local days and its currency. */
export type TenantRef = Pick<Tenant, 'id' | 'timezone' | 'currency'>
