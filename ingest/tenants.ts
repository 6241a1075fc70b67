// Tenants and their API keys, in a NATS KV bucket: the first piece of infrastructure every
// request meets, and durable in the same JetStream store. Keys are stored only as SHA-256 hashes
// (they are 256-bit random, so a slow hash adds nothing).
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import type { NatsConnection } from '@nats-io/transport-node'
import { type KV, Kvm } from '@nats-io/kv'
import { IANAZone } from 'luxon'
import { z } from 'zod'
import { isCurrency } from '../common/money.ts'

export const tenantId = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'expected 1-63 lower-case letters, digits or -, starting with a letter or digit')

/** The longest Shopify shop domain a tenant may register (and that a webhook is looked up by). */
const MAX_SHOP_DOMAIN = 255

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

export interface Tenant extends NewTenant {
  created_at: string
}

const hashKey = (apiKey: string) => createHash('sha256').update(apiKey).digest('hex')

/** Constant-time comparison of two secrets of any length. */
export function sameSecret(a: string, b: string): boolean {
  return timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest())
}

export class TenantExistsError extends Error {}

/** KV keys allow few characters: the domain is hex-encoded. */
const shopKey = (domain: string) => `shop.${Buffer.from(domain.trim().toLowerCase()).toString('hex')}`

export async function openTenantRegistry(nc: NatsConnection) {
  const kv: KV = await new Kvm(nc).create('pulse_tenants', { history: 1 })
  const byId = new Map<string, Tenant>()
  const byKeyHash = new Map<string, string>()

  async function get(id: string): Promise<Tenant | undefined> {
    const cached = byId.get(id)
    if (cached) return cached
    if (!tenantId.safeParse(id).success) return undefined
    const entry = await kv.get(`tenant.${id}`)
    if (entry?.operation !== 'PUT') return undefined
    const tenant = entry.json<Tenant>()
    byId.set(id, tenant)
    return tenant
  }

  return {
    get,
    /** Creates a tenant and returns its API key, shown this once. */
    async create(input: NewTenant): Promise<{ tenant: Tenant; apiKey: string }> {
      const tenant: Tenant = { ...input, created_at: new Date().toISOString() }
      try {
        await kv.create(`tenant.${tenant.id}`, JSON.stringify(tenant))
      } catch {
        throw new TenantExistsError(`tenant ${tenant.id} already exists`)
      }
      const apiKey = `pk_${tenant.id}_${randomBytes(24).toString('base64url')}`
      await kv.put(`apikey.${hashKey(apiKey)}`, tenant.id)
      // Shopify webhooks name the shop, not the tenant: index the tenant by its shop domain.
      if (tenant.shopify) await kv.put(shopKey(tenant.shopify.shop_domain), tenant.id)
      return { tenant, apiKey }
    },
    /** Every tenant's id (the alerts' timer runs absence rules for all of them). */
    async ids(): Promise<string[]> {
      const out: string[] = []
      for await (const key of await kv.keys('tenant.*')) out.push(key.slice('tenant.'.length))
      return out
    },
    /** The tenant whose Shopify shop this is (from `shopify.shop_domain` at creation), or undefined. */
    async byShopDomain(shopDomain: string): Promise<Tenant | undefined> {
      // No registered domain is longer; a longer key would exceed NATS's control line and make the
      // server drop the connection, with every request in flight on it.
      if (shopDomain.trim().length > MAX_SHOP_DOMAIN) return undefined
      const entry = await kv.get(shopKey(shopDomain))
      return entry && entry.operation === 'PUT' ? get(entry.string()) : undefined
    },
    /** The tenant an API key belongs to, or undefined. */
    async authenticate(apiKey: string): Promise<Tenant | undefined> {
      const hash = hashKey(apiKey)
      let id = byKeyHash.get(hash)
      if (id === undefined) {
        const entry = await kv.get(`apikey.${hash}`)
        if (entry?.operation !== 'PUT') return undefined
        id = entry.string()
        byKeyHash.set(hash, id)
      }
      return get(id)
    },
  }
}

export type TenantRegistry = Awaited<ReturnType<typeof openTenantRegistry>>
