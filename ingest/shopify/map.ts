// Shopify's order, refund and inventory JSON (webhook payloads, Admin REST shapes) → Pulse events.
// Every order payload yields its order.created (at created_at) and, when it has changed since,
// an order.updated at updated_at (the newest edit stands), its cancellation, and the refunds it
// carries; ids come from the content, so a replayed webhook, or a refund seen both in an order
// and on its own topic, is the same event again.
import { z } from 'zod'
import { type ArchivedPage, MalformedPage, type MapContext, UnresolvedReference } from '../connectors/types.ts'
import { parseJson, shapeOf, sumDec, withId } from '../connectors/values.ts'
import { attribution } from './channel.ts'
import { INVENTORY_LEVEL_TOPIC, PRODUCT_TOPICS } from './inventory-items.ts'

export const ORDER_TOPICS = new Set([
  'orders/create',
  'orders/updated',
  'orders/cancelled',
  'orders/fulfilled',
  'orders/paid',
  'orders/partially_fulfilled',
])

const money = z.union([z.string().regex(/^\d+(\.\d+)?$/), z.number().nonnegative()])
const id = z.union([z.number().int(), z.string().min(1)]).transform(String)
const address = z.looseObject({ city: z.string().nullish() }).nullish()

const refund = z.looseObject({
  id,
  order_id: id,
  created_at: z.string(),
  processed_at: z.string().nullish(),
  transactions: z
    .array(
      z.looseObject({ kind: z.string(), status: z.string().nullish(), amount: money, currency: z.string().nullish() }),
    )
    .default([]),
  refund_line_items: z
    .array(z.looseObject({ subtotal: money.nullish(), quantity: z.number().int().nullish() }))
    .default([]),
})

const order = z.looseObject({
  id,
  created_at: z.string(),
  updated_at: z.string().nullish(),
  cancelled_at: z.string().nullish(),
  currency: z.string().nullish(),
  total_price: money,
  subtotal_price: money,
  total_discounts: money.nullish(),
  total_tax: money.nullish(),
  shipping_lines: z.array(z.looseObject({ price: money, discounted_price: money.nullish() })).default([]),
  line_items: z.array(
    z.looseObject({
      id,
      sku: z.string().nullish(),
      variant_id: id.nullish(),
      product_id: id.nullish(),
      vendor: z.string().nullish(),
      product_type: z.string().nullish(),
      quantity: z.number().int().nonnegative(),
      price: money,
    }),
  ),
  customer: z.looseObject({ id }).nullish(),
  source_name: z.string().nullish(),
  landing_site: z.string().nullish(),
  referring_site: z.string().nullish(),
  shipping_address: address,
  billing_address: address,
  refunds: z.array(refund).default([]),
})

// products/create, products/update: only their variants' inventory items → SKUs are used
// (recorded by inventory-items.ts before mapping); the shape is checked so a bad body is seen.
const product = z.looseObject({
  id,
  variants: z.array(z.looseObject({ id, sku: z.string().nullish(), inventory_item_id: id.nullish() })),
})

// inventory_levels/update: `available` is null when the item's inventory is not tracked.
const inventoryLevel = z.looseObject({
  inventory_item_id: id,
  location_id: id,
  available: z.number().int().nullable(),
  updated_at: z.string().min(1),
})

/**
 * An inventory level → `inventory.level` under the SKU recorded for its item (ctx.inventorySkus),
 * or nothing when the item is not tracked. An item with no SKU recorded yet (its product not
 * received) is an UnresolvedReference: dead-lettered `unknown_inventory_item`, recovered by
 * reprocessing once the product has come in.
 */
export function inventoryLevelEvents(
  level: z.infer<typeof inventoryLevel>,
  ctx: MapContext,
  shopDomain: string | undefined,
): Record<string, unknown>[] {
  if (level.available === null) return []
  const sku = ctx.inventorySkus?.get(level.inventory_item_id)
  if (sku === undefined)
    throw new UnresolvedReference(
      'unknown_inventory_item',
      `inventory item ${level.inventory_item_id} has no SKU recorded: no products/create or products/update naming it received yet (reprocess after they are)`,
    )
  return [
    withId(`shopify:inventory:${level.inventory_item_id}:${level.location_id}`, {
      type: 'inventory.level',
      ts: level.updated_at,
      source: 'shopify',
      store: shopDomain || undefined, // the shop domain (X-Shopify-Shop-Domain)
      sku,
      location_id: level.location_id,
      available: level.available,
    }),
  ]
}

const text = (v: string | number | null | undefined) => (v === null || v === undefined ? undefined : String(v))

export function refundEvent(r: z.infer<typeof refund>): Record<string, unknown> | undefined {
  const refunded = r.transactions.filter((t) => t.kind === 'refund' && (t.status ?? 'success') === 'success')
  const amount = sumDec(refunded.map((t) => t.amount))
  const subtotal = sumDec(r.refund_line_items.map((l) => l.subtotal ?? 0))
  if (Number(amount) === 0 && Number(subtotal) === 0) return undefined // a restock without money back
  return withId(`shopify:refund:${r.id}`, {
    type: 'refund.created',
    ts: r.created_at,
    source: 'shopify',
    currency: refunded[0]?.currency ?? undefined,
    order_id: r.order_id,
    refund_id: r.id,
    amount,
    subtotal: Number(subtotal) > Number(amount) ? amount : subtotal,
  })
}

export function orderEvents(o: z.infer<typeof order>): Record<string, unknown>[] {
  const { channel, campaign_id } = attribution(o)
  const city = o.shipping_address?.city ?? o.billing_address?.city
  const fields = {
    source: 'shopify',
    currency: o.currency ?? undefined,
    order_id: o.id,
    customer_id: o.customer?.id,
    total: String(o.total_price),
    subtotal: String(o.subtotal_price),
    discounts: String(o.total_discounts ?? '0'),
    tax: String(o.total_tax ?? '0'),
    shipping: sumDec(o.shipping_lines.map((s) => s.discounted_price ?? s.price)),
    items: o.line_items.map((l) => ({
      sku: l.sku || text(l.variant_id) || l.id,
      product_id: text(l.product_id),
      brand: l.vendor || undefined,
      category: l.product_type || undefined,
      quantity: l.quantity,
      price: String(l.price),
    })),
    channel,
    campaign_id,
    location: city ? { city } : undefined,
  }
  const out = [withId(`shopify:${o.id}:created`, { type: 'order.created', ts: o.created_at, ...fields })]
  if (o.updated_at && Date.parse(o.updated_at) > Date.parse(o.created_at)) {
    out.push(withId(`shopify:${o.id}:updated`, { type: 'order.updated', ts: o.updated_at, ...fields }))
  }
  if (o.cancelled_at)
    out.push(
      withId(`shopify:${o.id}:cancelled`, {
        type: 'order.cancelled',
        ts: o.cancelled_at,
        source: 'shopify',
        order_id: o.id,
      }),
    )
  for (const r of o.refunds) {
    const e = refundEvent(r)
    if (e) out.push(e)
  }
  return out
}

export function mapShopify(page: ArchivedPage, ctx: MapContext): Record<string, unknown>[] {
  if (ORDER_TOPICS.has(page.kind))
    return orderEvents(shapeOf(order, parseJson(page.body), `Shopify ${page.kind} payload`))
  if (page.kind === 'refunds/create') {
    const e = refundEvent(shapeOf(refund, parseJson(page.body), 'Shopify refunds/create payload'))
    return e ? [e] : []
  }
  if (page.kind === INVENTORY_LEVEL_TOPIC) {
    const level = shapeOf(inventoryLevel, parseJson(page.body), `Shopify ${page.kind} payload`)
    const shop = typeof page.meta.shop_domain === 'string' ? page.meta.shop_domain : page.connectorId
    return inventoryLevelEvents(level, ctx, shop)
  }
  if (PRODUCT_TOPICS.has(page.kind)) {
    shapeOf(product, parseJson(page.body), `Shopify ${page.kind} payload`)
    return [] // its inventory items were recorded before mapping (inventory-items.ts)
  }
  if (!page.kind) throw new MalformedPage('no X-Shopify-Topic')
  return [] // a topic we do not use: archived, nothing derived
}
