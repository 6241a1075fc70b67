// The processor's metrics rows (docs/metrics.md): line items with brand and category, COGS and its
// precedence, campaign and city dimensions, edits and attachments moving between places,
// high-intent revenue, the funnel, the activity feed, and settings applied mid-stream.
import { describe, it, expect } from 'vitest'
import { settingsSchema } from '../../common/settings.ts'
import { createActivityFeed } from '../../stream/activity.ts'
import { HOUR, MINUTE, minuteOf } from '../../stream/windows.ts'
import { cancel, created, nextId, refund, shopper, updated } from './processor-fixtures.ts'
import {
  COARSE,
  DAY,
  M,
  T,
  editLevel,
  inr,
  jpy,
  net,
  orderLevel,
  placed,
  setup,
  totals,
  totalsWhere,
} from './processor-fixtures.ts'

/** Meta's spend on campaign cmp-1 at T, for a brand, as reported at `reportedAt`. */
const adSpend = (brand: string, spend: string, reportedAt: number) => ({
  id: nextId(),
  type: 'ad.spend',
  ts: T,
  source: 'meta_ads',
  platform: 'facebook',
  campaign_id: 'cmp-1',
  brand,
  spend,
  reported_at: reportedAt,
})
const negated = (values: Record<string, number>) => Object.fromEntries(Object.entries(values).map(([k, v]) => [k, -v]))

describe('processor: line-item rows', () => {
  // Order figures sit on one row per brand the order holds, split by its lines' weights
  // (docs/brands.md): acme 800.00 and zeta 300.00 of 1100.00.
  it('writes one order row per brand (its share, no category) and one row per line item with its brand and category', () => {
    const { send, deltasOf } = setup()
    const d = deltasOf(
      send(
        created({
          items: [
            { sku: 'a', quantity: 2, price: '400.00', brand: 'acme', category: 'shoes' },
            { sku: 'b', quantity: 1, price: '300.00', brand: 'zeta', category: 'bags' },
          ],
        }),
      ),
    )
    expect(d).toHaveLength(4)
    const acme = { gmv: 85818, subtotal: 72727, discounts: 7273, tax: 10909, shipping: 2182 }
    const zeta = { gmv: 32182, subtotal: 27273, discounts: 2727, tax: 4091, shipping: 818 }
    const row = (brand: string, s: typeof acme, units: number, orders: number) => ({
      minute: M,
      source: 'shopify',
      channel: 'facebook',
      brand,
      values: {
        ...s,
        ...(orders ? { orders } : { brand_orders: 1 }),
        units,
        shipping_cost: s.shipping,
        attributed_revenue: s.gmv,
      },
    })
    expect(net(d)).toEqual(
      placed([
        row('acme', acme, 2, 1),
        row('zeta', zeta, 1, 0),
        {
          minute: M,
          source: 'shopify',
          channel: 'facebook',
          brand: 'acme',
          category: 'shoes',
          values: { item_revenue: 80000, item_units: 2, cogs: 32000 },
        },
        {
          minute: M,
          source: 'shopify',
          channel: 'facebook',
          brand: 'zeta',
          category: 'bags',
          values: { item_revenue: 30000, item_units: 1, cogs: 12000 },
        },
      ]),
    )
    // Order rows carry no item figures; item rows carry no order figures. Shares sum to the order.
    const orderRows = d.filter((x) => !x.category)
    expect(totals(orderRows)).toMatchObject({ item_revenue: 0, item_units: 0, cogs: 0, gmv: 118000, orders: 1 })
    expect(totals(orderRows).brand_orders).toBe(2)
    for (const row of d.filter((x) => x.category))
      expect(totals([row])).toMatchObject({ gmv: 0, orders: 0, units: 0, attributed_revenue: 0 })
  })

  it('sums lines of the same brand and category into one place; unbranded lines sit with the unbranded share', () => {
    const { send, all } = setup()
    send(
      created({
        items: [
          { sku: 'a', quantity: 1, price: '100.00', brand: 'acme', category: 'shoes' },
          { sku: 'b', quantity: 2, price: '50.00', brand: 'acme', category: 'shoes' },
          { sku: 'c', quantity: 1, price: '10.00', brand: 'acme' },
          { sku: 'd', quantity: 4, price: '1.00' },
        ],
      }),
    )
    expect(net(all, ['brand', 'category'])).toEqual(
      placed(
        [
          {
            values: {
              ...{ gmv: 2206, subtotal: 1869, discounts: 187, tax: 280, shipping: 56, shipping_cost: 56 },
              attributed_revenue: 2206,
              orders: 1,
              units: 4,
              item_revenue: 400,
              item_units: 4,
              cogs: 160,
            },
          },
          {
            brand: 'acme',
            values: {
              ...{ gmv: 115794, subtotal: 98131, discounts: 9813, tax: 14720, shipping: 2944, shipping_cost: 2944 },
              attributed_revenue: 115794,
              brand_orders: 1,
              units: 4,
              item_revenue: 1000,
              item_units: 1,
              cogs: 400,
            },
          },
          { brand: 'acme', category: 'shoes', values: { item_revenue: 20000, item_units: 3, cogs: 8000 } },
        ],
        ['brand', 'category'],
      ),
    )
  })

  it('an item with quantity 0 adds no item figures; its brand, the only one, holds the order', () => {
    const { send, all } = setup()
    send(created({ items: [{ sku: 'a', quantity: 0, price: '400.00', brand: 'acme', category: 'shoes' }] }))
    expect(totalsWhere(all, { brand: 'acme', category: 'shoes' })).toEqual({})
    expect(totalsWhere(all, { brand: 'acme' })).toEqual({ ...orderLevel, units: undefined })
  })
})

describe('processor: COGS', () => {
  it('an uploaded SKU cost wins over the item cost, which wins over the default rate (40 % of price × qty)', () => {
    const { processor, send, all, tenant } = setup()
    processor.applySettings(tenant, settingsSchema.parse({ sku_costs: { a: '150.00' } }))
    send(
      created({
        items: [
          // 2 × 150 (SKU cost wins over cost)
          { sku: 'a', quantity: 2, price: '400.00', cost: '300.00', category: 'sku-cost' },
          { sku: 'b', quantity: 3, price: '300.00', cost: '120.50', category: 'item-cost' }, // 3 × 120.50
          { sku: 'c', quantity: 3, price: '9.99', category: 'default' }, // 40 % of 29.97 = 11.988 → 11.99
        ],
      }),
    )
    expect(totalsWhere(all, { category: 'sku-cost' })).toEqual({ item_revenue: 80000, item_units: 2, cogs: 30000 })
    expect(totalsWhere(all, { category: 'item-cost' })).toEqual({ item_revenue: 90000, item_units: 3, cogs: 36150 })
    expect(totalsWhere(all, { category: 'default' })).toEqual({ item_revenue: 2997, item_units: 3, cogs: 1199 })
    expect(totals(all).cogs).toBe(30000 + 36150 + 1199)
  })

  it('a SKU cost applies to its SKU only; cost "0" is a cost, not absent', () => {
    const { processor, send, all, tenant } = setup()
    processor.applySettings(tenant, settingsSchema.parse({ sku_costs: { other: '1.00' } }))
    send(
      created({
        items: [
          { sku: 'a', quantity: 1, price: '100.00', cost: '0', category: 'free' },
          { sku: 'b', quantity: 1, price: '100.00', category: 'default' },
        ],
      }),
    )
    expect(totalsWhere(all, { category: 'free' }).cogs).toBeUndefined()
    expect(totalsWhere(all, { category: 'default' }).cogs).toBe(4000)
  })

  it('rounds a default-rate line half away from zero, once per line (not per unit)', () => {
    const { processor, send, all, tenant } = setup()
    processor.applySettings(tenant, settingsSchema.parse({ default_cogs_rate: 0.5 }))
    send(
      created({
        items: [
          { sku: 'x', quantity: 1, price: '0.05', category: 'half' }, // 2.5 paise → 3 (half-even would say 2)
          { sku: 'y', quantity: 3, price: '0.05', category: 'line' }, // 7.5 paise → 8 (per unit: 3 × 3 = 9)
          { sku: 'z', quantity: 1, price: '0.01', category: 'tiny' }, // 0.5 paise → 1
          { sku: 'w', quantity: 1, price: '0.07', category: 'odd' }, // 3.5 paise → 4
        ],
      }),
    )
    expect(totalsWhere(all, { category: 'half' }).cogs).toBe(3)
    expect(totalsWhere(all, { category: 'line' }).cogs).toBe(8)
    expect(totalsWhere(all, { category: 'tiny' }).cogs).toBe(1)
    expect(totalsWhere(all, { category: 'odd' }).cogs).toBe(4)
  })

  it('rounds with a rate of three decimals (0.333 of 0.10 = 0.0333 → 0.03; of 1.50 = 0.4995 → 0.50)', () => {
    const { processor, send, all, tenant } = setup()
    processor.applySettings(tenant, settingsSchema.parse({ default_cogs_rate: 0.333 }))
    send(
      created({
        items: [
          { sku: 'x', quantity: 1, price: '0.10', category: 'down' },
          { sku: 'y', quantity: 1, price: '1.50', category: 'up' },
        ],
      }),
    )
    expect(totalsWhere(all, { category: 'down' }).cogs).toBe(3)
    expect(totalsWhere(all, { category: 'up' }).cogs).toBe(50)
  })

  it('rounds to whole yen in a zero-digit currency', () => {
    const { processor, send, all, tenant } = setup(jpy)
    processor.applySettings(tenant, settingsSchema.parse({ default_cogs_rate: 0.5, sku_costs: { s: '12' } }))
    send(
      created({
        total: '100',
        subtotal: '100',
        discounts: '0',
        tax: '0',
        shipping: '0',
        items: [
          { sku: 'x', quantity: 1, price: '5', category: 'half' },
          { sku: 's', quantity: 2, price: '99', category: 'sku' },
        ],
      }),
    )
    expect(totalsWhere(all, { category: 'half' })).toEqual({ item_revenue: 5, item_units: 1, cogs: 3 })
    expect(totalsWhere(all, { category: 'sku' })).toEqual({ item_revenue: 198, item_units: 2, cogs: 24 })
  })

  it('converts item prices and costs through Arrival.fx, not an uploaded SKU cost (already in tenant currency)', () => {
    const { processor, send, all, tenant } = setup()
    processor.applySettings(tenant, settingsSchema.parse({ sku_costs: { a: '100.00' } }))
    send(
      created({
        currency: 'USD',
        total: '30.00',
        subtotal: '30.00',
        discounts: '0',
        tax: '0',
        shipping: '0',
        items: [
          { sku: 'a', quantity: 2, price: '10.00', category: 'sku' }, // 2 × ₹100.00
          { sku: 'b', quantity: 1, price: '10.00', cost: '5.00', category: 'cost' }, // $5 × 83.1234 = ₹415.617 → 41562
          { sku: 'c', quantity: 1, price: '10.00', category: 'default' }, // 40 % of ₹831.23 = 332.492 → 33249
        ],
      }),
      { fx: '83.1234' },
    )
    expect(totalsWhere(all, { category: 'sku' })).toEqual({ item_revenue: 166246, item_units: 2, cogs: 20000 })
    expect(totalsWhere(all, { category: 'cost' })).toEqual({ item_revenue: 83123, item_units: 1, cogs: 41562 })
    expect(totalsWhere(all, { category: 'default' })).toEqual({ item_revenue: 83123, item_units: 1, cogs: 33249 })
  })

  // BUG: lineCogs builds the rate from String(default_cogs_rate); a valid rate below 1e-6 prints
  // in exponent form ("1e-7") and BigInt("1e-7") throws, so every order without a cost fails.
  it('accepts any default_cogs_rate the settings schema accepts (1e-7 of ₹1,000,000.00 = 10 paise)', () => {
    const { processor, send, all, tenant } = setup()
    processor.applySettings(tenant, settingsSchema.parse({ default_cogs_rate: 1e-7 }))
    send(created({ items: [{ sku: 'x', quantity: 1, price: '1000000.00' }] }))
    expect(totals(all).cogs).toBe(10)
  })
})

describe('processor: campaign and city dimensions', () => {
  it('every row of an order carries its campaign_id and city (location as a string)', () => {
    const { send, deltasOf } = setup()
    const d = deltasOf(
      send(
        created({
          campaign_id: 'cmp-1',
          location: 'Mumbai',
          items: [{ sku: 'a', quantity: 2, price: '500.00', brand: 'acme', category: 'shoes' }],
        }),
      ),
    )
    expect(d.every((x) => x.campaign_id === 'cmp-1' && x.city === 'Mumbai')).toBe(true)
    expect(net(d)).toEqual(
      placed([
        {
          minute: M,
          source: 'shopify',
          channel: 'facebook',
          campaign_id: 'cmp-1',
          city: 'Mumbai',
          brand: 'acme',
          values: { ...orderLevel, units: 2 },
        },
        {
          minute: M,
          source: 'shopify',
          channel: 'facebook',
          campaign_id: 'cmp-1',
          city: 'Mumbai',
          brand: 'acme',
          category: 'shoes',
          values: { item_revenue: 100000, item_units: 2, cogs: 40000 },
        },
      ]),
    )
  })

  it('takes the city from a location object, and leaves it empty when there is none', () => {
    const { send, all } = setup()
    send(created({ order_id: 'o-1', location: { city: 'Pune', country: 'IN' } }))
    send(created({ order_id: 'o-2', location: { country: 'IN' } }))
    send(created({ order_id: 'o-3' }))
    expect(net(all, ['city', 'campaign_id']).map((r) => [r.city, r.campaign_id, r.values.orders])).toEqual([
      ['', '', 2],
      ['Pune', '', 1],
    ])
  })

  it('an edit moves every figure from the old campaign and city to the new ones', () => {
    const { send, deltasOf, all } = setup()
    send(created({ campaign_id: 'cmp-1', location: 'Mumbai' }))
    const d = deltasOf(send(updated({ ts: T + HOUR, campaign_id: 'cmp-2', location: { city: 'Pune' } })))
    const by = ['campaign_id', 'city'] as const
    expect(net(d, [...by])).toEqual(
      placed(
        [
          {
            campaign_id: 'cmp-1',
            city: 'Mumbai',
            values: negated({ ...orderLevel, item_revenue: 110000, item_units: 3, cogs: 44000 }),
          },
          {
            campaign_id: 'cmp-2',
            city: 'Pune',
            values: { ...editLevel, item_revenue: 50000, item_units: 1, cogs: 20000 },
          },
        ],
        [...by],
      ),
    )
    expect(totalsWhere(all, { campaign_id: 'cmp-1' })).toEqual({})
    expect(totalsWhere(all, { campaign_id: 'cmp-2', minute: M })).toEqual({
      ...editLevel,
      item_revenue: 50000,
      item_units: 1,
      cogs: 20000,
    })
  })

  it('an edit that drops the campaign moves the order to no campaign', () => {
    const { send, all } = setup()
    send(created({ campaign_id: 'cmp-1' }))
    send(updated({ ts: T + HOUR }))
    expect(totalsWhere(all, { campaign_id: 'cmp-1' })).toEqual({})
    expect(totalsWhere(all, { campaign_id: '' }).gmv).toBe(59000)
  })

  it('an edit moving brands: the old brand rows go, the new ones come', () => {
    const { send, all } = setup()
    send(created({ items: [{ sku: 'a', quantity: 1, price: '1000.00', brand: 'acme' }] }))
    send(updated({ ts: T + HOUR, items: [{ sku: 'a', quantity: 1, price: '500.00', brand: 'zeta' }] }))
    expect(totalsWhere(all, { brand: 'acme' })).toEqual({})
    expect(totalsWhere(all, { brand: 'zeta' })).toEqual({
      ...editLevel,
      item_revenue: 50000,
      item_units: 1,
      cogs: 20000,
    })
  })

  it('ad.spend carries campaign_id and brand; marketing.cost an empty brand', () => {
    const { send, all } = setup()
    send(adSpend('acme', '10.00', T))
    send({
      id: nextId(),
      type: 'marketing.cost',
      ts: T,
      source: 'klaviyo',
      platform: 'klaviyo',
      campaign_id: 'flow-1',
      amount: '2.00',
      reported_at: T,
    })
    expect(net(all)).toEqual(
      placed([
        {
          minute: M,
          source: 'meta_ads',
          channel: 'facebook',
          campaign_id: 'cmp-1',
          brand: 'acme',
          values: { ad_spend: 1000 },
        },
        { minute: M, source: 'klaviyo', channel: 'klaviyo', campaign_id: 'flow-1', values: { marketing_cost: 200 } },
      ]),
    )
  })

  it('a restatement that changes the brand moves the spend', () => {
    const { send, all } = setup()
    send(adSpend('acme', '10.00', T))
    send(adSpend('zeta', '12.00', T + 1))
    expect(totalsWhere(all, { brand: 'acme' })).toEqual({})
    expect(totalsWhere(all, { brand: 'zeta' })).toEqual({ ad_spend: 1200 })
  })
})

describe('processor: refunds and cancellations follow their order', () => {
  const refundOwn = { refunds: 11800, refund_subtotal: 10000, refund_count: 1 }
  const refundOd = { refunds_od: 11800, refund_subtotal_od: 10000, refund_count_od: 1 }
  const editRows = { ...editLevel, item_revenue: 50000, item_units: 1, cogs: 20000 }

  it('carry the order campaign and city', () => {
    const { send, deltasOf } = setup()
    send(created({ campaign_id: 'cmp-1', location: 'Mumbai' }))
    expect(net(deltasOf(send(refund())))).toEqual(
      placed([
        {
          minute: minuteOf(T + DAY),
          source: 'shopify',
          channel: 'facebook',
          campaign_id: 'cmp-1',
          city: 'Mumbai',
          values: refundOwn,
        },
        { minute: M, source: 'shopify', channel: 'facebook', campaign_id: 'cmp-1', city: 'Mumbai', values: refundOd },
      ]),
    )
  })

  it('move with an edit that changes channel, campaign and city: both parts, nothing left behind', () => {
    const { send, deltasOf, all } = setup()
    send(created({ campaign_id: 'cmp-1', location: 'Mumbai' }))
    send(refund())
    send(cancel())
    const d = deltasOf(send(updated({ ts: T + 3 * HOUR, channel: 'google', campaign_id: 'cmp-2', location: 'Pune' })))
    // The edit's own deltas move the refund and the cancellation, at their own times and at the order's.
    expect(totalsWhere(d, { channel: 'facebook', minute: minuteOf(T + DAY) })).toEqual(negated(refundOwn))
    expect(totalsWhere(d, { channel: 'google', minute: minuteOf(T + DAY) })).toEqual(refundOwn)
    expect(totalsWhere(d, { channel: 'google', minute: minuteOf(T + 2 * HOUR) })).toEqual({ cancelled_orders: 1 })
    const g = { source: 'shopify', channel: 'google', campaign_id: 'cmp-2', city: 'Pune' }
    expect(net(all)).toEqual(
      placed([
        { minute: M, ...g, values: { ...editRows, ...refundOd, cancelled_orders_od: 1 } },
        { minute: minuteOf(T + 2 * HOUR), ...g, values: { cancelled_orders: 1 } },
        { minute: minuteOf(T + DAY), ...g, values: refundOwn },
      ]),
    )
  })

  it('an edit that keeps channel, campaign, city and minute does not move them', () => {
    const { send, deltasOf } = setup()
    send(created())
    send(refund())
    const d = deltasOf(send(updated({ ts: T + HOUR })))
    expect(d.some((x) => x.minute === minuteOf(T + DAY))).toBe(false)
  })

  it('a refund and a cancellation that arrive before the order, which is then edited to another channel', () => {
    const { send, all } = setup()
    send(refund())
    send(cancel())
    // While the order is unknown: own time and order window are both at its own minute, channel "unknown".
    expect(totalsWhere(all, { channel: 'unknown' })).toMatchObject({
      ...refundOwn,
      ...refundOd,
      cancelled_orders: 1,
      cancelled_orders_od: 1,
    })
    send(created({ channel: 'google' }))
    expect(totalsWhere(all, { channel: 'unknown' })).toEqual({})
    send(updated({ ts: T + HOUR, channel: 'organic', campaign_id: 'cmp-3' }))
    const o = { source: 'shopify', channel: 'organic', campaign_id: 'cmp-3' }
    const { attributed_revenue: _, ...organicRows } = editRows
    expect(net(all)).toEqual(
      placed([
        { minute: M, ...o, values: { ...organicRows, ...refundOd, cancelled_orders_od: 1 } },
        { minute: minuteOf(T + 2 * HOUR), ...o, values: { cancelled_orders: 1 } },
        { minute: minuteOf(T + DAY), ...o, values: refundOwn },
      ]),
    )
  })

  it('follow the order when an order.created moves it to the window of creation (update seen first)', () => {
    const { send, all } = setup()
    send(updated({ ts: T + 5 * HOUR, channel: 'google' }))
    send(refund())
    expect(totalsWhere(all, { minute: minuteOf(T + 5 * HOUR) })).toMatchObject({ ...refundOd, gmv: 59000 })
    send(created({ channel: 'instagram' })) // older: the edit's figures (google) stand, in the create's window
    expect(totalsWhere(all, { minute: minuteOf(T + 5 * HOUR) })).toEqual({})
    expect(totalsWhere(all, { minute: M, channel: 'google' })).toEqual({ ...editRows, ...refundOd })
    expect(totalsWhere(all, { minute: minuteOf(T + DAY), channel: 'google' })).toEqual(refundOwn)
  })
})

describe('processor: high_intent_revenue', () => {
  it('is the attributed revenue of an order whose customer scores ≥ high (10) at order time', () => {
    const { send, all } = setup()
    send(shopper('checkout.started', { ts: T - HOUR }))
    send(shopper('checkout.started', { ts: T - HOUR }))
    send(shopper('checkout.started', { ts: T - HOUR }))
    send(created())
    expect(totals(all).high_intent_revenue).toBe(118000)
    // On the order-level row, with its place.
    expect(totalsWhere(all, { minute: M, channel: 'facebook', brand: '' }).high_intent_revenue).toBe(118000)
  })

  it('counts a score of exactly the threshold (two checkouts at the order time: 10)', () => {
    const { send, all } = setup()
    send(shopper('checkout.started'))
    send(shopper('checkout.started'))
    send(created())
    expect(totals(all).high_intent_revenue).toBe(118000)
  })

  it('does not count a score just below (two checkouts a minute before: 9.995)', () => {
    const { send, all } = setup()
    send(shopper('checkout.started', { ts: T - MINUTE }))
    send(shopper('checkout.started', { ts: T - MINUTE }))
    send(created())
    expect(totals(all).high_intent_revenue).toBe(0)
  })

  it('is 0 for organic orders (not attributed), guests and other customers', () => {
    const { send, all } = setup()
    for (let i = 0; i < 2; i++) send(shopper('checkout.started'))
    send(created({ order_id: 'o-1', channel: 'organic' }))
    send(created({ order_id: 'o-2', customer_id: undefined }))
    send(created({ order_id: 'o-3', customer_id: 'c-2' }))
    expect(totals(all).high_intent_revenue).toBe(0)
    expect(totals(all).attributed_revenue).toBe(2 * 118000)
  })

  it('uses the tenant threshold and weights from settings', () => {
    const { processor, send, all, tenant } = setup()
    processor.applySettings(tenant, settingsSchema.parse({ intent: { high: 4, weights: { search: 2 } } }))
    send(shopper('cart.added'))
    send(shopper('product.viewed')) // 3 + 1 = 4 ≥ 4
    send(created({ order_id: 'o-1' }))
    send(shopper('search', { customer_id: 'c-2' }))
    send(shopper('search', { customer_id: 'c-2' })) // 2 + 2 = 4 with the search weight of 2
    send(created({ order_id: 'o-2', customer_id: 'c-2', channel: 'google' }))
    expect(totals(all).high_intent_revenue).toBe(2 * 118000)
  })

  it('follows an edit: the order stays high-intent, with the new attributed revenue', () => {
    const { send, all } = setup()
    send(shopper('checkout.started'))
    send(shopper('checkout.started'))
    send(created())
    send(updated({ ts: T + HOUR }))
    expect(totals(all).high_intent_revenue).toBe(59000)
    send(updated({ ts: T + 2 * HOUR, channel: 'organic' }))
    expect(totals(all).high_intent_revenue).toBe(0)
  })

  // BUG: intent "ignoring events later than the query time" (docs/metrics.md) — the order's time here. The
  // store decays from its newest event, and for a query time before it the factor 2^(+age/24 h)
  // brings later events in (grown). Two checkouts at T + 1 h processed before an order at T:
  // expected high_intent_revenue 0 (score at T: 0), actual 118000 (score 10.29).
  it('ignores shopper events later than the order (they arrived first)', () => {
    const { send, all } = setup()
    send(shopper('checkout.started', { ts: T + HOUR }))
    send(shopper('checkout.started', { ts: T + HOUR }))
    send(created())
    expect(totals(all).high_intent_revenue).toBe(0)
  })
})

describe('processor: funnel', () => {
  // Asia/Kolkata is UTC+05:30: the local day 2026-11-22 starts at 2026-11-21T18:30:00Z.
  const DAY22 = Date.parse('2026-11-22T00:00:00+05:30')

  it('counts distinct customers per step per tenant-local day', () => {
    const { processor, send } = setup()
    send(shopper('product.viewed', { ts: DAY22 - 1 })) // 2026-11-21 local
    send(shopper('product.viewed', { ts: DAY22 })) // 2026-11-22 local
    send(shopper('product.viewed', { ts: DAY22 + HOUR }))
    send(shopper('product.viewed', { customer_id: 'c-2', ts: DAY22 + 2 * HOUR }))
    send(shopper('search', { customer_id: 'c-3', ts: DAY22 + 2 * HOUR })) // not a funnel step
    send(shopper('cart.added', { ts: DAY22 + 3 * HOUR }))
    send(shopper('cart.added', { ts: DAY22 + 4 * HOUR }))
    send(shopper('checkout.started', { ts: DAY22 + 5 * HOUR }))
    send(created({ ts: DAY22 + 6 * HOUR }))
    send(created({ order_id: 'o-2', ts: DAY22 + 7 * HOUR }))
    send(created({ order_id: 'o-3', customer_id: undefined, ts: DAY22 + 7 * HOUR })) // guest: no customer
    send(shopper('cart.added', { customer_id: 'c-2', ts: DAY22 + DAY - 1 })) // last instant of the 22nd
    send(shopper('checkout.started', { customer_id: 'c-2', ts: DAY22 + DAY })) // the 23rd
    expect(processor.funnel.counts(inr.id, '2026-11-21', '2026-11-23')).toEqual([
      { day: '2026-11-21', counts: [1, 0, 0, 0] },
      { day: '2026-11-22', counts: [2, 2, 1, 1] },
      { day: '2026-11-23', counts: [0, 0, 1, 0] },
    ])
    expect(processor.funnel.counts(inr.id, '2026-11-22', '2026-11-22')).toEqual([
      { day: '2026-11-22', counts: [2, 2, 1, 1] },
    ])
    expect(processor.funnel.counts(inr.id, '2026-11-24', '2026-11-30')).toEqual([])
  })

  it('keeps tenants apart and uses each tenant’s timezone', () => {
    const { processor } = setup()
    const ts = Date.parse('2026-11-22T16:00:00Z') // 21:30 in Kolkata, 01:00 on the 23rd in Tokyo
    processor.apply(
      inr,
      { id: 'v1', type: 'product.viewed', ts, source: 'shopify', customer_id: 'c-1' },
      { receivedAt: ts },
    )
    processor.apply(
      jpy,
      { id: 'v1', type: 'product.viewed', ts, source: 'shopify', customer_id: 'c-1' },
      { receivedAt: ts },
    )
    expect(processor.funnel.counts(inr.id, '2026-11-01', '2026-11-30')).toEqual([
      { day: '2026-11-22', counts: [1, 0, 0, 0] },
    ])
    expect(processor.funnel.counts(jpy.id, '2026-11-01', '2026-11-30')).toEqual([
      { day: '2026-11-23', counts: [1, 0, 0, 0] },
    ])
  })

  it('does not count a duplicate event or an order edit as another customer', () => {
    const { processor, send } = setup()
    const view = shopper('product.viewed', { id: 'same' })
    send(view)
    send(view)
    send(created())
    send(updated({ ts: T + HOUR }))
    expect(processor.funnel.counts(inr.id, '2026-11-22', '2026-11-22')).toEqual([
      { day: '2026-11-22', counts: [1, 0, 0, 1] },
    ])
  })

  // BUG: stateOf(tenant) builds the tenant's local-day function only when the first call passes a
  // TenantRef; any read by id first (processor.settings(id) — GET /v1/settings, ingest's rateFor
  // — or processor.freshness(id) — every KPI answer) creates the state with localDayOf = () => ''
  // for good, and every later funnel step of that tenant is filed under day ''.
  it('a tenant whose settings or freshness were read before its first event still gets local days', () => {
    const { processor, send } = setup()
    processor.freshness(inr.id)
    send(shopper('product.viewed'))
    expect(processor.funnel.counts(inr.id, '2026-11-22', '2026-11-22')).toEqual([
      { day: '2026-11-22', counts: [1, 0, 0, 0] },
    ])
  })

  // BUG: the "ordered" step is counted on the day of the first event seen for the order. An
  // order.updated on the 23rd (local) arriving before its order.created on the 22nd counts the
  // customer as ordering on the 23rd, and the create (which moves the order's window to the 22nd)
  // does not move it. Expected (docs/metrics.md: ordered that day = the order's day): 22nd [0,0,0,1],
  // nothing on the 23rd; actual: [0,0,0,1] on the 23rd and nothing on the 22nd.
  it('counts "ordered" on the day the order was created, even when an edit arrives first', () => {
    const { processor, send } = setup()
    send(updated({ ts: Date.parse('2026-11-22T19:00:00Z') })) // 00:30 on the 23rd in Kolkata
    send(created()) // 15:30 on the 22nd
    expect(processor.funnel.counts(inr.id, '2026-11-21', '2026-11-24')).toEqual([
      { day: '2026-11-22', counts: [0, 0, 0, 1] },
    ])
  })
})

describe('processor: activity feed', () => {
  it('lists orders, refunds, cancellations, carts and checkouts, newest first, with descriptions', () => {
    const { processor, send } = setup()
    send(shopper('product.viewed')) // not in the feed
    send(shopper('search')) // not in the feed
    send(shopper('cart.added', { id: 'cart-1', product_id: 'p-9', category: 'shoes' }))
    send(shopper('checkout.started', { id: 'chk-1', ts: T + 1000 }))
    send(created({ id: 'ord-1', location: 'Mumbai' }))
    send(
      created({
        id: 'ord-2',
        order_id: 'o-2',
        customer_id: undefined,
        channel: 'organic',
        total: '5.00',
        items: [{ sku: 'x', quantity: 1, price: '5.00' }],
      }),
    )
    send(updated({ id: 'edit-1', ts: T + HOUR })) // edits are not in the feed
    send(refund({ id: 'ref-1' }))
    send(refund({ id: 'ref-1b' })) // the same refund_id again: counted once, listed once
    send(cancel({ id: 'can-1' }))
    expect(processor.activity.latest(inr.id, 50)).toEqual([
      {
        event_id: 'can-1',
        type: 'order.cancelled',
        ts: '2026-11-22T12:00:00.000Z',
        customer_id: null,
        amount: null,
        description: 'Order o-1 cancelled',
      },
      {
        event_id: 'ref-1',
        type: 'refund.created',
        ts: '2026-11-23T10:00:00.000Z',
        customer_id: 'c-1',
        amount: '118.00',
        description: 'Refund on order o-1 for c-1',
      },
      {
        event_id: 'ord-2',
        type: 'order.created',
        ts: '2026-11-22T10:00:00.000Z',
        customer_id: null,
        amount: '5.00',
        description: 'Order o-2 (guest): 1 item via organic',
      },
      {
        event_id: 'ord-1',
        type: 'order.created',
        ts: '2026-11-22T10:00:00.000Z',
        customer_id: 'c-1',
        amount: '1180.00',
        description: 'Order o-1 by c-1: 3 items via facebook from Mumbai',
      },
      {
        event_id: 'chk-1',
        type: 'checkout.started',
        ts: '2026-11-22T10:00:01.000Z',
        customer_id: 'c-1',
        amount: null,
        description: 'c-1 started checkout',
      },
      {
        event_id: 'cart-1',
        type: 'cart.added',
        ts: '2026-11-22T10:00:00.000Z',
        customer_id: 'c-1',
        amount: null,
        description: 'c-1 added to cart p-9 (shoes)',
      },
    ])
    expect(processor.activity.latest(inr.id, 2).map((i) => i.event_id)).toEqual(['can-1', 'ref-1'])
  })

  it('describes a refund of an order not seen yet without a customer, and money in the tenant currency', () => {
    const { processor, send } = setup(jpy)
    send(refund({ id: 'ref-early', amount: '1180.5', subtotal: undefined }))
    send(created({ id: 'ord-jpy', total: '1180.5', subtotal: '1000', discounts: '0', tax: '180.5', shipping: '0' }))
    expect(
      processor.activity.latest(jpy.id, 10).map((i) => [i.event_id, i.amount, i.customer_id, i.description]),
    ).toEqual([
      ['ord-jpy', '1181', 'c-1', 'Order o-1 by c-1: 3 items via facebook'],
      ['ref-early', '1181', null, 'Refund on order o-1'],
    ])
  })

  it('keeps tenants apart and lists nothing for a tenant without activity', () => {
    const { processor, send } = setup()
    send(created())
    expect(processor.activity.latest(jpy.id, 10)).toEqual([])
    expect(processor.activity.latest(inr.id, 10)).toHaveLength(1)
  })

  it('is bounded: the processor keeps the newest 500', () => {
    const { processor, send } = setup()
    for (let i = 0; i < 1234; i++) send(shopper('cart.added', { id: `cart-${i}` }))
    const items = processor.activity.latest(inr.id, 10_000)
    expect(items).toHaveLength(500)
    expect(items[0].event_id).toBe('cart-1233')
    expect(items[499].event_id).toBe('cart-734')
  })

  /** The n-th cart.added of customer c in a feed. */
  const feedItem = (n: number) => ({
    event_id: `e-${n}`,
    type: 'cart.added',
    ts: new Date(T).toISOString(),
    customer_id: 'c',
    amount: null,
    description: '',
  })

  it('a feed of capacity 3 keeps the newest 3 in arrival order, newest first', () => {
    const feed = createActivityFeed(3)
    for (let n = 1; n <= 10; n++) feed.push('t', feedItem(n))
    expect(feed.latest('t', 100).map((i) => i.event_id)).toEqual(['e-10', 'e-9', 'e-8'])
    expect(feed.latest('t', 1).map((i) => i.event_id)).toEqual(['e-10'])
  })

  // BUG: latest(tenant, 0) computes slice(-0) = slice(0) and returns the whole buffer (up to
  // 2 × capacity items, oldest included) instead of nothing.
  it('latest with limit 0 lists nothing', () => {
    const feed = createActivityFeed(3)
    for (let n = 1; n <= 5; n++) feed.push('t', feedItem(n))
    expect(feed.latest('t', 0)).toEqual([])
  })
})

describe('processor: settings applied mid-stream', () => {
  it('a COGS change applies to orders processed after it, and leaves earlier orders as they were', () => {
    const { processor, send, deltasOf, all, tenant } = setup()
    send(created({ order_id: 'o-1' })) // 40 %: 44000
    processor.applySettings(tenant, settingsSchema.parse({ default_cogs_rate: 0.5, sku_costs: { b: '10.00' } }))
    const later = deltasOf(send(created({ order_id: 'o-2', ts: T + MINUTE })))
    // o-2: a at 50 % of 800 = 400, b at its SKU cost 10 → 41000
    expect(totals(later).cogs).toBe(41000)
    expect(later.every((d) => d.minute === M + MINUTE)).toBe(true)
    expect(totalsWhere(all, { minute: M }).cogs).toBe(44000)
    expect(totals(all).cogs).toBe(85000)
    expect(processor.settings(inr.id)).toMatchObject({ default_cogs_rate: 0.5, sku_costs: { b: '10.00' } })
  })

  it('settings are per tenant', () => {
    const { processor, tenant } = setup()
    processor.applySettings(tenant, settingsSchema.parse({ default_cogs_rate: 0.1 }))
    expect(processor.settings(inr.id).default_cogs_rate).toBe(0.1)
    expect(processor.settings(jpy.id).default_cogs_rate).toBe(0.4)
  })

  it('the processor lateness is the default until a tenant setting overrides it', () => {
    const { processor, send, tenant } = setup()
    expect(processor.settings(inr.id).allowed_lateness_seconds).toBe(300)
    send(created({ ts: T }))
    expect(send(created({ order_id: 'o-2', ts: T - 4 * MINUTE }))).toMatchObject({ late: false })
    processor.applySettings(tenant, settingsSchema.parse({ allowed_lateness_seconds: 60 }))
    expect(send(created({ order_id: 'o-3', ts: T - 2 * MINUTE }))).toMatchObject({ late: true })
  })

  it('intent weights changed mid-stream apply to later shopper events', () => {
    const { processor, send, all, tenant } = setup()
    send(shopper('cart.added')) // 3
    processor.applySettings(tenant, settingsSchema.parse({ intent: { weights: { 'cart.added': 7 } } }))
    send(shopper('cart.added')) // 7 → 10
    send(created())
    expect(totals(all).high_intent_revenue).toBe(118000)
  })
})

describe('processor: outcome.customers', () => {
  it('names the customers an event touched', () => {
    const { send } = setup()
    expect(send(created())).toMatchObject({ customers: ['c-1'] })
    expect(send(created({ order_id: 'o-2', customer_id: undefined }))).toMatchObject({ customers: [] })
    expect(send(updated({ ts: T + HOUR, customer_id: 'c-2' }))).toMatchObject({ customers: ['c-2', 'c-1'] })
    expect(send(refund())).toMatchObject({ customers: [] })
  })

  it('net of an order and its exact re-application is nothing, at every grain', () => {
    const { send, deltasOf } = setup()
    send(created({ campaign_id: 'cmp-1', location: 'Mumbai' }))
    const d = deltasOf(send(created({ campaign_id: 'cmp-1', location: 'Mumbai' })))
    expect(net(d)).toEqual([])
    expect(net(d, COARSE)).toEqual([])
  })
})
