// Tenants and their API keys, in a NATS KV bucket: the first piece of infrastructure every
// request meets, and durable in the same JetStream store.
import type { NatsConnection } from '@nats-io/transport-node'
import type { KV } from '@nats-io/kv'
import { openKv, type ReplicasOption } from '../common/jetstream-replicas.ts'
import { isWrongLastSequence } from '../common/nats-errors.ts'
import { hashApiKey, newApiKey } from './api-keys.ts'
import { MAX_SHOP_DOMAIN, type NewTenant, type Tenant, isTenantId } from './tenant.ts'

export class TenantExistsError extends Error {
  override name = 'TenantExistsError'
}

/** KV keys allow few characters: the domain is hex-encoded. */
const shopKey = (domain: string) => `shop.${Buffer.from(domain.trim().toLowerCase()).toString('hex')}`

export async function openTenantRegistry(
  nc: NatsConnection,
  now: () => number = Date.now,
  options: ReplicasOption = {},
) {
  const kv: KV = await openKv(nc, 'pulse_tenants', { history: 1 }, options.replicas)
  const byId = new Map<string, Tenant>()
  const byKeyHash = new Map<string, string>()

  async function get(id: string): Promise<Tenant | undefined> {
    const cached = byId.get(id)
    if (cached) return cached
    if (!isTenantId(id)) return undefined
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
      const tenant: Tenant = { ...input, created_at: new Date(now()).toISOString() }
      try {
        await kv.create(`tenant.${tenant.id}`, JSON.stringify(tenant))
      } catch (err) {
        // Only a key that is there already; an unreachable NATS is not a duplicate tenant.
        if (!isWrongLastSequence(err)) throw err
        throw new TenantExistsError(`tenant ${tenant.id} already exists`, { cause: err })
      }
      const apiKey = newApiKey(tenant.id)
      await kv.put(`apikey.${hashApiKey(apiKey)}`, tenant.id)
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
      // No registered domain is empty either: `shop.` is no KV key.
      const length = shopDomain.trim().length
      if (length === 0 || length > MAX_SHOP_DOMAIN) return undefined
      const entry = await kv.get(shopKey(shopDomain))
      return entry && entry.operation === 'PUT' ? get(entry.string()) : undefined
    },
    /** The tenant an API key belongs to, or undefined. */
    async authenticate(apiKey: string): Promise<Tenant | undefined> {
      const hash = hashApiKey(apiKey)
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
