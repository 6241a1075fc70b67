// The event contract: the single source of truth for every event type.
import { z } from 'zod'
import { isCurrency, isDecimal, toDecimalString } from './money.ts'

const isoWithOffset = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/

/** Date.parse rolls 2026-02-30 over to March; a real date must survive a round trip. */
function isCalendarDate(text: string): boolean {
  const [year, month, day] = text.slice(0, 10).split('-').map(Number)
  return new Date(Date.UTC(year, month - 1, day)).getUTCDate() === day
}

/**
 * Instants lie from 1970-01-01 to 2100-01-01 UTC, both included: ClickHouse keeps rollup minutes
 * as 32-bit seconds, and a Date beyond ±8.64e15 ms cannot even be formatted.
 */
export const MAX_INSTANT_MS = Date.UTC(2100, 0, 1)
const inRange = (ms: number) => ms >= 0 && ms <= MAX_INSTANT_MS
const RANGE_MESSAGE = 'expected an instant from 1970-01-01 to 2100-01-01T00:00:00Z'

/** ISO 8601 with an offset, or epoch milliseconds → epoch milliseconds. */
export const instant = z.union([
  z.number().int().nonnegative().max(MAX_INSTANT_MS, RANGE_MESSAGE),
  z
    .string()
    .regex(isoWithOffset, 'expected ISO 8601 with an offset (e.g. 2026-11-22T10:00:00+05:30) or epoch milliseconds')
    .transform((text, ctx) => {
      const ms = Date.parse(text)
      if (Number.isNaN(ms) || !isCalendarDate(text))
        ctx.addIssue({ code: 'custom', message: `not a valid instant: ${text}` })
      else if (!inRange(ms)) ctx.addIssue({ code: 'custom', message: RANGE_MESSAGE })
      return ms
    }),
])

/**
 * The largest amount an event may carry, in major units, after conversion to the tenant's
 * currency; a line's price × quantity and an order's lines together are held to it too. So every
 * amount is at most 10^13 minor units (three-decimal currencies), an order's figures stay exact
 * as doubles, and a tenant's sums stay exact to 2^53 minor units (~900 maximal orders, or 9·10^13
 * in a two-decimal currency).
 */
export const MAX_AMOUNT = 10_000_000_000
/** The largest line quantity, and the largest count (impressions, clicks, conversions). */
export const MAX_QUANTITY = 1_000_000
export const MAX_COUNT = 1_000_000_000_000

/** Money in major units, as a JSON number or decimal string → canonical decimal string. */
export const money = z.union([z.number().finite().nonnegative(), z.string().max(40)]).transform((value, ctx) => {
  const text = toDecimalString(value)
  if (!isDecimal(text) || text.startsWith('-')) {
    ctx.addIssue({
      code: 'custom',
      message: `expected a non-negative amount like "299.99", got ${JSON.stringify(value)}`,
    })
  } else if (Number(text) > MAX_AMOUNT) {
    ctx.addIssue({ code: 'custom', message: `expected an amount of at most ${MAX_AMOUNT}, got ${text}` })
  }
  return text
})

const name = z.string().min(1).max(200)
const count = z.number().int().nonnegative().max(MAX_COUNT)
const label = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'expected lower-case letters, digits, _ or -')

const common = {
  // Printable only: the id becomes part of a NATS header (Nats-Msg-Id).
  id: z
    .string()
    .min(1)
    .max(256)
    .regex(/^[\x21-\x7e][\x20-\x7e]*$/, 'expected printable ASCII'),
  ts: instant,
  source: label,
  currency: z.string().refine(isCurrency, 'expected an ISO 4217 currency code').optional(),
  // The shop the event belongs to (a rollup dimension, docs/brands.md): printable, no control characters.
  store: z
    .string()
    .min(1)
    .max(200)
    .regex(/^[^\p{Cc}]+$/u, 'expected a store name without control characters')
    .optional(),
}

export const lineItem = z.object({
  sku: name,
  product_id: name.optional(),
  brand: name.optional(),
  category: name.optional(),
  quantity: z.number().int().nonnegative().max(MAX_QUANTITY),
  price: money,
  cost: money.optional(),
})

/** A refunded item: `subtotal` is the merchandise refunded for these units. */
export const refundItem = z.object({
  sku: name,
  quantity: z.number().int().nonnegative().max(MAX_QUANTITY),
  subtotal: money,
})

const orderFields = {
  ...common,
  order_id: name,
  customer_id: name.optional(),
  total: money,
  subtotal: money,
  discounts: money.default('0'),
  tax: money.default('0'),
  shipping: money.default('0'),
  shipping_cost: money.optional(),
  // The seller's own costs of the order (payment processing, marketplace commission): not the
  // platform fees of /v1/settings. An edit replaces them like the order's other amounts.
  fees: money.optional(),
  items: z.array(lineItem).max(1000).default([]),
  channel: label.default('organic'),
  campaign_id: name.optional(),
  location: z.union([name, z.looseObject({ city: name.optional() })]).optional(),
}

export const orderCreated = z.object({ type: z.literal('order.created'), ...orderFields })
export const orderUpdated = z.object({ type: z.literal('order.updated'), ...orderFields })
export const orderCancelled = z.object({ type: z.literal('order.cancelled'), ...common, order_id: name })
export const refundCreated = z.object({
  type: z.literal('refund.created'),
  ...common,
  order_id: name,
  refund_id: name.optional(),
  amount: money,
  subtotal: money.optional(),
  // Fees the payment processor gave back with the refund: they reduce the seller's fees.
  fees: money.optional(),
  // What was refunded, matched to the order's lines by SKU (docs/brands.md, "Refunds").
  items: z.array(refundItem).max(1000).optional(),
})
/** A fee billed apart from any order event (a payout fee, a monthly charge, a chargeback fee). */
export const feeCharged = z.object({
  type: z.literal('fee.charged'),
  ...common,
  amount: money,
  kind: name,
  // The order it belongs to, if any: then it counts as that order's cost (and follows its window).
  order_id: name.optional(),
})
export const adSpend = z.object({
  type: z.literal('ad.spend'),
  ...common,
  platform: label,
  campaign_id: name,
  brand: name.optional(),
  spend: money,
  impressions: count.optional(),
  clicks: count.optional(),
  conversions: z.number().nonnegative().max(MAX_COUNT).optional(),
  conversion_value: money.optional(),
  // The platform's name of the campaign, shown beside its id (empty: none given).
  campaign_name: z.string().max(500, 'expected a campaign name of at most 500 characters').optional(),
  period: z.enum(['hour', 'day']).default('day'),
  reported_at: instant.optional(),
})
export const marketingCost = z.object({
  type: z.literal('marketing.cost'),
  ...common,
  platform: label,
  amount: money,
  campaign_id: name.optional(),
  period: z.enum(['hour', 'day']).default('day'),
  reported_at: instant.optional(),
})
const shopperFields = { ...common, customer_id: name, category: name.optional(), product_id: name.optional() }
export const productViewed = z.object({ type: z.literal('product.viewed'), ...shopperFields })
export const search = z.object({ type: z.literal('search'), ...shopperFields, query: z.string().max(500).optional() })
export const cartAdded = z.object({ type: z.literal('cart.added'), ...shopperFields })
export const checkoutStarted = z.object({ type: z.literal('checkout.started'), ...shopperFields })
/** The largest stock level, either way (a negative level is oversold stock). */
export const MAX_STOCK = 1_000_000_000
/** The units of a SKU available at one location as of `ts` (docs/inventory.md): the newest by `ts` stands. */
export const inventoryLevel = z.object({
  type: z.literal('inventory.level'),
  ...common,
  sku: name,
  location_id: name,
  available: z.number().int().min(-MAX_STOCK).max(MAX_STOCK),
})

export const event = z.discriminatedUnion('type', [
  orderCreated,
  orderUpdated,
  orderCancelled,
  refundCreated,
  feeCharged,
  adSpend,
  marketingCost,
  productViewed,
  search,
  cartAdded,
  checkoutStarted,
  inventoryLevel,
])

export type PulseEvent = z.infer<typeof event>
export type EventType = PulseEvent['type']
export type OrderEvent = z.infer<typeof orderCreated> | z.infer<typeof orderUpdated>
export type RefundEvent = z.infer<typeof refundCreated>
export type FeeChargedEvent = z.infer<typeof feeCharged>
export type AdSpendEvent = z.infer<typeof adSpend>
export type MarketingCostEvent = z.infer<typeof marketingCost>
export type LineItem = z.infer<typeof lineItem>
export type InventoryLevelEvent = z.infer<typeof inventoryLevel>
export const eventTypes = event.options.map((option) => option.shape.type.value)

/** Money fields of an event that are not in the tenant's currency need a rate. */
export function eventCurrency(e: PulseEvent, tenantCurrency: string): string {
  return e.currency ?? tenantCurrency
}
