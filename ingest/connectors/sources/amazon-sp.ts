// Amazon Selling Partner API → orders, cancellations and refunds (source `amazon`). Login with
// Amazon exchanges the refresh token for an access token; getOrders by LastUpdatedAfter, following
// NextToken; getOrderItems for each priced order (the items page is archived with its order, so
// it maps on its own); refunds from the Finances API's RefundEventList by PostedAfter; FBA stock
// levels from getInventorySummaries (amazon-inventory.ts) unless `fba_inventory` is false.
// Rate limits: 429 honoured, and x-amzn-RateLimit-Limit feeds a token bucket per operation.
import { z } from 'zod'
import { refreshAccessToken } from '../oauth.ts'
import type { HttpResponse, Source } from '../types.ts'
import { MalformedPage } from '../types.ts'
import { divDec, iso, negDec, parseJson, shapeOf, subDec, sumDec, withId } from '../values.ts'
import {
  INVENTORY_BURST,
  INVENTORY_KIND,
  INVENTORY_OPERATION,
  mapInventorySummaries,
  syncFbaInventory,
  type Undated,
} from './amazon-inventory.ts'

const config = z.object({
  refresh_token: z.string().min(1),
  client_id: z.string().min(1),
  client_secret: z.string().min(1),
  marketplace_ids: z.union([
    z.array(z.string().min(1)).min(1),
    z
      .string()
      .min(1)
      .transform((s) => s.split(',')),
  ]),
  api_base_url: z.url().default('https://sellingpartnerapi-na.amazon.com'),
  /** Login with Amazon token endpoint; with api_base_url set and this not, <api_base_url>/auth/o2/token. */
  lwa_endpoint: z.url().optional(),
  backfill_days: z.number().int().min(1).max(730).default(30),
  /** Poll FBA inventory (needs the Product Listing role); false for a seller without FBA stock. */
  fba_inventory: z.boolean().default(true),
})
type Config = z.infer<typeof config>

/** Documented default bursts; the rate comes from x-amzn-RateLimit-Limit. */
const BURST: Record<string, { burst: number; rate: number }> = {
  getOrders: { burst: 20, rate: 0.0167 },
  getOrderItems: { burst: 30, rate: 0.5 },
  listFinancialEvents: { burst: 30, rate: 0.5 },
  [INVENTORY_OPERATION]: INVENTORY_BURST,
}
const PRICED = new Set(['Unshipped', 'PartiallyShipped', 'Shipped', 'InvoiceUnconfirmed', 'Unfulfillable'])

const money = z.looseObject({ CurrencyCode: z.string().optional(), Amount: z.string().regex(/^-?\d+(\.\d+)?$/) })
const order = z.looseObject({
  AmazonOrderId: z.string().min(1),
  PurchaseDate: z.string().min(1),
  LastUpdateDate: z.string().min(1),
  OrderStatus: z.string().min(1),
  OrderTotal: money.optional(),
  ShippingAddress: z.looseObject({ City: z.string().optional() }).optional(),
})
const ordersPage = z.object({ payload: z.looseObject({ Orders: z.array(order), NextToken: z.string().optional() }) })
const item = z.looseObject({
  ASIN: z.string().min(1),
  SellerSKU: z.string().optional(),
  QuantityOrdered: z.number().int().nonnegative(),
  ItemPrice: money.optional(),
  ItemTax: money.optional(),
  ShippingPrice: money.optional(),
  ShippingTax: money.optional(),
  ShippingDiscount: money.optional(),
  PromotionDiscount: money.optional(),
})
const itemsPage = z.object({ payload: z.looseObject({ AmazonOrderId: z.string(), OrderItems: z.array(item) }) })
const amount = z.looseObject({ CurrencyCode: z.string().optional(), CurrencyAmount: z.number() })
const refundEvent = z.looseObject({
  AmazonOrderId: z.string().min(1),
  PostedDate: z.string().min(1),
  ShipmentItemAdjustmentList: z
    .array(
      z.looseObject({
        ItemChargeAdjustmentList: z.array(z.looseObject({ ChargeType: z.string(), ChargeAmount: amount })).default([]),
        PromotionAdjustmentList: z.array(z.looseObject({ PromotionAmount: amount })).default([]),
      }),
    )
    .default([]),
})
const financesPage = z.object({
  payload: z.looseObject({
    NextToken: z.string().optional(),
    FinancialEvents: z.looseObject({ RefundEventList: z.array(refundEvent).default([]) }),
  }),
})

const amt = (m: { Amount: string } | undefined) => m?.Amount ?? '0'

export const amazonSp: Source<Config> = {
  type: 'amazon_sp',
  source: 'amazon',
  config,
  account: (c) => c.marketplace_ids.join(','),

  async sync(ctx) {
    const c = ctx.config
    const base = c.api_base_url.replace(/\/$/, '')
    const token = await refreshAccessToken(ctx, {
      url:
        c.lwa_endpoint ??
        (c.api_base_url === 'https://sellingpartnerapi-na.amazon.com'
          ? 'https://api.amazon.com/auth/o2/token'
          : `${base}/auth/o2/token`),
      operation: 'lwa',
      refreshToken: c.refresh_token,
      clientId: c.client_id,
      clientSecret: c.client_secret,
    })
    const headers = {
      'x-amz-access-token': token.accessToken,
      accept: 'application/json',
    }
    const cursor = (ctx.cursor ?? {}) as { last_updated_after?: string; posted_after?: string; fba_undated?: Undated }
    const start = iso(ctx.now() - c.backfill_days * 86_400_000)
    const lastUpdatedAfter = cursor.last_updated_after ?? start
    const postedAfter = cursor.posted_after ?? start
    // The next cursors: the newest update and posting seen (the API returns only newer ones).
    let lastUpdated: string | undefined
    let posted: string | undefined
    const newer = (a: string, b: string | undefined) => b === undefined || Date.parse(a) > Date.parse(b)

    let query: URLSearchParams | undefined = new URLSearchParams({
      MarketplaceIds: c.marketplace_ids.join(','),
      LastUpdatedAfter: lastUpdatedAfter,
      MaxResultsPerPage: '100',
    })
    while (query) {
      const res = await ctx.request({ url: `${base}/orders/v0/orders?${query}`, operation: 'getOrders', headers })
      const json = (await ctx.page('orders', {}, res.text)) as
        | { payload?: { Orders?: unknown[]; NextToken?: string } }
        | undefined
      for (const o of Array.isArray(json?.payload?.Orders) ? json.payload.Orders : []) {
        const parsed = order.safeParse(o)
        if (!parsed.success) continue // the page itself was dead-lettered
        if (newer(parsed.data.LastUpdateDate, lastUpdated)) lastUpdated = parsed.data.LastUpdateDate
        if (PRICED.has(parsed.data.OrderStatus)) await syncItems(ctx, base, headers, parsed.data)
      }
      const next = json?.payload?.NextToken
      query = next ? new URLSearchParams({ MarketplaceIds: c.marketplace_ids.join(','), NextToken: next }) : undefined
    }

    let finances: URLSearchParams | undefined = new URLSearchParams({
      PostedAfter: postedAfter,
      MaxResultsPerPage: '100',
    })
    while (finances) {
      const res = await ctx.request({
        url: `${base}/finances/v0/financialEvents?${finances}`,
        operation: 'listFinancialEvents',
        headers,
      })
      const json = (await ctx.page('financialEvents', {}, res.text)) as
        | { payload?: { NextToken?: string; FinancialEvents?: { RefundEventList?: { PostedDate?: string }[] } } }
        | undefined
      for (const r of json?.payload?.FinancialEvents?.RefundEventList ?? [])
        if (typeof r?.PostedDate === 'string' && newer(r.PostedDate, posted)) posted = r.PostedDate
      const next = json?.payload?.NextToken
      finances = next ? new URLSearchParams({ NextToken: next }) : undefined
    }
    const fbaUndated = c.fba_inventory
      ? await syncFbaInventory(ctx, base, headers, c.marketplace_ids, cursor.fba_undated ?? {})
      : undefined
    return {
      last_updated_after: lastUpdated ?? lastUpdatedAfter,
      posted_after: posted ?? postedAfter,
      fba_undated: fbaUndated,
    }
  },

  map(p) {
    const json = parseJson(p.body)
    if (p.kind === 'orders') {
      return shapeOf(ordersPage, json, 'getOrders page')
        .payload.Orders.filter((o) => o.OrderStatus === 'Canceled')
        .map((o) =>
          withId(`amazon:${o.AmazonOrderId}:cancelled`, {
            type: 'order.cancelled',
            ts: o.LastUpdateDate,
            source: 'amazon',
            order_id: o.AmazonOrderId,
          }),
        )
    }
    if (p.kind === 'orderItems') {
      const o = shapeOf(order, p.meta.order, 'archived order')
      const items = shapeOf(itemsPage, json, 'getOrderItems page').payload.OrderItems
      const sum = (pick: (i: z.infer<typeof item>) => { Amount: string } | undefined) =>
        sumDec(items.map((i) => amt(pick(i))))
      const promotions = sum((i) => i.PromotionDiscount)
      const shippingDiscounts = sum((i) => i.ShippingDiscount)
      const subtotal = subDec(
        sum((i) => i.ItemPrice),
        promotions,
      )
      const shipping = subDec(
        sum((i) => i.ShippingPrice),
        shippingDiscounts,
      )
      const tax = sumDec([sum((i) => i.ItemTax), sum((i) => i.ShippingTax)])
      const fields = {
        source: 'amazon',
        currency: o.OrderTotal?.CurrencyCode ?? items.find((i) => i.ItemPrice)?.ItemPrice?.CurrencyCode,
        order_id: o.AmazonOrderId,
        total: o.OrderTotal ? o.OrderTotal.Amount : sumDec([subtotal, shipping, tax]),
        subtotal,
        discounts: sumDec([promotions, shippingDiscounts]),
        tax,
        shipping,
        items: items.map((i) => ({
          sku: i.SellerSKU ?? i.ASIN,
          product_id: i.ASIN,
          quantity: i.QuantityOrdered,
          price: divDec(amt(i.ItemPrice), i.QuantityOrdered),
        })),
        channel: 'organic',
        location: o.ShippingAddress?.City ? { city: o.ShippingAddress.City } : undefined,
      }
      const out = [
        withId(`amazon:${o.AmazonOrderId}:created`, { type: 'order.created', ts: o.PurchaseDate, ...fields }),
      ]
      if (o.LastUpdateDate > o.PurchaseDate)
        out.push(
          withId(`amazon:${o.AmazonOrderId}:updated`, { type: 'order.updated', ts: o.LastUpdateDate, ...fields }),
        )
      return out
    }
    if (p.kind === 'financialEvents') {
      return shapeOf(financesPage, json, 'listFinancialEvents page').payload.FinancialEvents.RefundEventList.map(
        (r) => {
          const charges = r.ShipmentItemAdjustmentList.flatMap((a) => a.ItemChargeAdjustmentList)
          const promotions = r.ShipmentItemAdjustmentList.flatMap((a) =>
            a.PromotionAdjustmentList.map((x) => x.PromotionAmount.CurrencyAmount),
          )
          // Refunded charges are negative; a refunded promotion comes back positive.
          const refunded = negDec(sumDec([...charges.map((ch) => ch.ChargeAmount.CurrencyAmount), ...promotions]))
          const principal = negDec(
            sumDec([
              ...charges.filter((ch) => ch.ChargeType === 'Principal').map((ch) => ch.ChargeAmount.CurrencyAmount),
              ...promotions,
            ]),
          )
          const refundId = `${r.AmazonOrderId}:${r.PostedDate}`
          return withId(`amazon:refund:${refundId}`, {
            type: 'refund.created',
            ts: r.PostedDate,
            source: 'amazon',
            currency: charges[0]?.ChargeAmount.CurrencyCode,
            order_id: r.AmazonOrderId,
            refund_id: refundId,
            amount: refunded,
            subtotal: principal,
          })
        },
      )
    }
    if (p.kind === INVENTORY_KIND) return mapInventorySummaries(p)
    throw new MalformedPage(`unknown page kind ${p.kind}`)
  },

  /** A token bucket per operation: burst from the docs, rate from x-amzn-RateLimit-Limit. */
  usage(res: HttpResponse, operation: string, memo: Map<string, unknown>, now: number) {
    const plan = BURST[operation]
    if (!plan) return undefined
    const header = Number(res.headers.get('x-amzn-ratelimit-limit'))
    const prev = memo.get(operation) as { tokens: number; at: number; rate: number } | undefined
    const rate = header > 0 ? header : (prev?.rate ?? plan.rate)
    const tokens = Math.min(plan.burst, prev ? prev.tokens + ((now - prev.at) / 1000) * rate : plan.burst) - 1
    memo.set(operation, { tokens, at: now, rate })
    return tokens < 0 ? Math.ceil((-tokens / rate) * 1000) : undefined
  },
}

async function syncItems(
  ctx: Parameters<Source['sync']>[0],
  base: string,
  headers: Record<string, string>,
  o: z.infer<typeof order>,
): Promise<void> {
  const bodies: string[] = []
  let next: string | undefined
  do {
    const q: string = next ? `?NextToken=${encodeURIComponent(next)}` : ''
    const res = await ctx.request({
      url: `${base}/orders/v0/orders/${encodeURIComponent(o.AmazonOrderId)}/orderItems${q}`,
      operation: 'getOrderItems',
      headers,
    })
    bodies.push(res.text)
    try {
      next = (JSON.parse(res.text) as { payload?: { NextToken?: string } }).payload?.NextToken
    } catch {
      next = undefined
    }
  } while (next)
  // Several item pages (a very large order) are archived as one, so the order maps whole.
  let body = bodies[0]
  if (bodies.length > 1) {
    try {
      const all = bodies.map((b) => JSON.parse(b) as { payload: { OrderItems: unknown[] } })
      body = JSON.stringify({
        payload: { ...all[0].payload, NextToken: undefined, OrderItems: all.flatMap((b) => b.payload.OrderItems) },
      })
    } catch {
      body = bodies.find((b) => !isJson(b)) ?? bodies[0]
    }
  }
  await ctx.page('orderItems', { order: o }, body)
}

function isJson(text: string): boolean {
  try {
    JSON.parse(text)
    return true
  } catch {
    return false
  }
}
