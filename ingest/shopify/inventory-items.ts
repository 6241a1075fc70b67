// Shopify names stock by inventory item (inventory_levels/update carries inventory_item_id, not a
// SKU); the SKU is on the product's variant. products/create and products/update are recorded here,
// per tenant and inventory item, in NATS KV (the connectors' bucket `pulse_connectors`, under
// `shopify-item.<tenant>.<inventory item id>`: every node, and every node after a restart, resolves
// them), and an inventory level is mapped with the SKU loaded beforehand. The
// same happens when the archive is reprocessed: an inventory webhook that arrived before its
// product (dead-lettered `unknown_inventory_item`) maps once the product has been received.
import type { KV } from '@nats-io/kv'
import type { NatsConnection } from '@nats-io/transport-node'
import { openKv, type ReplicasOption } from '../../common/jetstream-replicas.ts'
import type { ArchivedPage, MapLookups, PagePreparer } from '../connectors/types.ts'
import { quoteBigIntegers } from '../connectors/values.ts'
import type { TenantRef } from '../../tenants/index.ts'

/** The connectors' bucket (store.ts opens it with the same options); these keys sit beside its `c.` and `s.`. */
export const INVENTORY_ITEMS_BUCKET = 'pulse_connectors'
const PREFIX = 'shopify-item'
export const PRODUCT_TOPICS = new Set(['products/create', 'products/update'])
export const INVENTORY_LEVEL_TOPIC = 'inventory_levels/update'

/** What a variant's inventory item is recorded as; `updated_at` orders out-of-order deliveries. */
export interface InventoryItemRecord {
  sku: string
  variant_id: string
  updated_at: string
}

export interface InventoryItemStore {
  get(tenant: string, inventoryItemId: string): Promise<InventoryItemRecord | undefined>
  /** Records unless what is stored is as new or newer (a late products/update never wins). */
  record(tenant: string, inventoryItemId: string, record: InventoryItemRecord): Promise<void>
}

const KEY_PART = /^[A-Za-z0-9_-]{1,200}$/
const keyOf = (tenant: string, item: string) =>
  KEY_PART.test(tenant) && KEY_PART.test(item) ? `${PREFIX}.${tenant}.${item}` : undefined
const time = (iso: string) => {
  const ms = Date.parse(iso)
  return Number.isNaN(ms) ? 0 : ms
}

export async function openInventoryItemStore(
  nc: NatsConnection,
  options: ReplicasOption = {},
): Promise<InventoryItemStore> {
  const kv: KV = await openKv(nc, INVENTORY_ITEMS_BUCKET, { history: 1 }, options.replicas)
  return {
    async get(tenant, item) {
      const key = keyOf(tenant, item)
      if (!key) return undefined
      const entry = await kv.get(key)
      return entry && entry.operation === 'PUT' ? entry.json<InventoryItemRecord>() : undefined
    },
    async record(tenant, item, record) {
      const key = keyOf(tenant, item)
      if (!key) return
      const value = JSON.stringify(record)
      // Compare-and-set: two nodes recording the same item at once cannot overwrite a newer SKU.
      for (let attempt = 0; ; attempt++) {
        const entry = await kv.get(key)
        const current = entry && entry.operation === 'PUT' ? entry.json<InventoryItemRecord>() : undefined
        if (current) {
          const [was, is] = [time(current.updated_at), time(record.updated_at)]
          if (is < was || (is === was && current.sku === record.sku)) return
        }
        try {
          if (entry) await kv.update(key, value, entry.revision)
          else await kv.create(key, value)
          return
        } catch (err) {
          if (attempt >= 4) throw err
        }
      }
    },
  }
}

interface ProductVariant {
  id?: unknown
  sku?: unknown
  inventory_item_id?: unknown
  updated_at?: unknown
}

const idText = (v: unknown): string | undefined =>
  (typeof v === 'number' && Number.isSafeInteger(v)) || (typeof v === 'string' && v !== '') ? String(v) : undefined

function parse(body: string): Record<string, unknown> | undefined {
  try {
    const json = JSON.parse(quoteBigIntegers(body))
    return json && typeof json === 'object' && !Array.isArray(json) ? json : undefined
  } catch {
    return undefined
  }
}

/**
 * The SKU an inventory level is reported under: the variant's SKU, else its id, as order line
 * items are (shopify/map.ts), so stock and sales meet on the same key.
 */
export function variantSku(variant: { id?: unknown; sku?: unknown }): string | undefined {
  return typeof variant.sku === 'string' && variant.sku.trim() !== '' ? variant.sku : idText(variant.id)
}

/**
 * Shopify's preparer: products/* record their variants' inventory items; inventory_levels/update
 * loads its item's SKU. A body that is not JSON or not of the shape is left to the mapping (which
 * dead-letters it).
 */
export function prepareShopify(store: InventoryItemStore): PagePreparer {
  return async (tenant: TenantRef, page: ArchivedPage): Promise<MapLookups> => {
    const json = PRODUCT_TOPICS.has(page.kind) || page.kind === INVENTORY_LEVEL_TOPIC ? parse(page.body) : undefined
    if (!json) return {}
    if (page.kind === INVENTORY_LEVEL_TOPIC) {
      const item = idText(json.inventory_item_id)
      const found = item ? await store.get(tenant.id, item) : undefined
      return { inventorySkus: new Map(item && found ? [[item, found.sku]] : []) }
    }
    const variants = Array.isArray(json.variants) ? (json.variants as ProductVariant[]) : []
    const productUpdated = typeof json.updated_at === 'string' ? json.updated_at : undefined
    const records: [string, InventoryItemRecord][] = []
    for (const v of variants) {
      const item = idText(v?.inventory_item_id)
      const sku = v && variantSku(v)
      const variantId = idText(v?.id)
      if (!item || !sku || !variantId) continue
      const updated = typeof v.updated_at === 'string' ? v.updated_at : productUpdated
      records.push([
        item,
        { sku, variant_id: variantId, updated_at: updated ?? new Date(page.receivedAt).toISOString() },
      ])
    }
    // A product has up to 2,048 variants: recorded 50 at a time.
    for (let i = 0; i < records.length; i += 50)
      await Promise.all(records.slice(i, i + 50).map(([item, r]) => store.record(tenant.id, item, r)))
    return {}
  }
}
