// Brand and store through the processor (docs/brands.md): an order's figures on one row per brand
// it holds, refunds split by their items or like the order, fees split like the order, counts once
// per order and once per brand, edits re-splitting refunds, and the store dimension. Expected
// shares are worked out here with a plain largest-remainder split, not with stream/brand-split.ts.
import { describe, expect, it } from 'vitest'
import type { Delta } from '../../stream/processor.ts'
import { DAY, M, T, cancel, created, nextId, refund, setup, totals, updated } from './processor-fixtures.ts'
import { minuteOf } from '../../stream/windows.ts'

/** Largest remainder, ties to the brand first in code-unit order. */
function split(amount: number, weights: Record<string, number>): Record<string, number> {
  const brands = Object.keys(weights).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
  const sum = brands.reduce((s, b) => s + weights[b], 0)
  const out: Record<string, number> = {}
  const rem: Record<string, number> = {}
  for (const b of brands) {
    out[b] = Math.floor((amount * weights[b]) / sum)
    rem[b] = (amount * weights[b]) % sum
  }
  let left = amount - brands.reduce((s, b) => s + out[b], 0)
  for (const b of [...brands].sort((x, y) => rem[y] - rem[x] || (x < y ? -1 : 1))) if (left-- > 0) out[b]++
  return out
}

const byBrand = (deltas: Delta[], brand: string, extra: (d: Delta) => boolean = () => true) =>
  totals(deltas.filter((d) => (d.brand ?? '') === brand && !d.category && extra(d)))

// nike 2 × 400.00, adidas 1 × 300.00, an unbranded 1 × 100.00: weights 80000, 30000, 10000.
const items = [
  { sku: 'shoe', quantity: 2, price: '400.00', brand: 'nike' },
  { sku: 'tee', quantity: 1, price: '300.00', brand: 'adidas' },
  { sku: 'bag', quantity: 1, price: '100.00' },
]
const weights = { nike: 80000, adidas: 30000, '': 10000 }
const order = { total: 118000, subtotal: 100000, discounts: 10000, tax: 15000, shipping: 3000, fees: 777 }

describe('processor: brand rows', () => {
  it("puts each held brand's share of every figure on its row; shares sum to the order", () => {
    const { send, all } = setup()
    send(created({ items, fees: '7.77', store: 'north' }))
    for (const brand of Object.keys(weights)) {
      const t = byBrand(all, brand)
      const amounts = Object.fromEntries(
        Object.entries(order).map(([k, v]) => [k, split(v, weights)[brand]]),
      ) as typeof order
      expect(t).toMatchObject({
        gmv: amounts.total,
        subtotal: amounts.subtotal,
        discounts: amounts.discounts,
        tax: amounts.tax,
        shipping: amounts.shipping,
        shipping_cost: amounts.shipping,
        fees: amounts.fees,
        attributed_revenue: amounts.total,
        brand_orders: 1,
        units: brand === 'nike' ? 2 : 1,
      })
    }
    const all3 = totals(all.filter((d) => !d.category))
    expect(all3).toMatchObject({ gmv: 118000, subtotal: 100000, tax: 15000, fees: 777, orders: 1, brand_orders: 3 })
    // `orders` sits on the first held brand in code-unit order: ''.
    expect(byBrand(all, '').orders).toBe(1)
    expect(all.every((d) => d.store === 'north')).toBe(true)
  })

  it('splits a refund without items like the order, with items by their lines; counts once and per brand', () => {
    const { send, all } = setup()
    send(created({ items }))
    send(refund({ refund_id: 'r-1', amount: '50.00', subtotal: '40.00', fees: '1.00' }))
    const r1 = all.filter((d) => d.minute === minuteOf(T + DAY))
    for (const brand of Object.keys(weights))
      expect(byBrand(r1, brand)).toMatchObject({
        refunds: split(5000, weights)[brand],
        refund_subtotal: split(4000, weights)[brand],
        fees: -split(100, weights)[brand],
        brand_refund_count: 1,
      })
    expect(totals(r1)).toMatchObject({ refunds: 5000, refund_count: 1, brand_refund_count: 3 })

    // One tee (adidas) for 300.00 of a 330.00 refund: adidas takes the item, the 30.00 left splits like the order.
    send(
      refund({
        id: nextId(),
        refund_id: 'r-2',
        ts: T + 2 * DAY,
        amount: '330.00',
        subtotal: '330.00',
        items: [{ sku: 'tee', quantity: 1, subtotal: '300.00' }],
      }),
    )
    const r2 = all.filter((d) => d.minute === minuteOf(T + 2 * DAY))
    const rest = split(3000, weights)
    expect(byBrand(r2, 'adidas')).toMatchObject({
      refunds: 30000 + rest.adidas,
      brand_refund_count: 1,
      refund_count: 1,
    })
    expect(byBrand(r2, 'nike')).toMatchObject({ refunds: rest.nike, brand_refund_count: 0, refund_count: 0 })
    expect(totals(r2)).toMatchObject({ refunds: 33000, refund_subtotal: 33000, refund_count: 1, brand_refund_count: 1 })
  })

  it('an edit changing lines re-splits the refunds attached; nothing is left of the old split', () => {
    const { send, all } = setup()
    send(created({ items }))
    send(refund({ amount: '50.00', subtotal: '50.00' }))
    // Same minute and place, other lines: only nike and an unbranded item now.
    send(
      updated({
        ts: T,
        items: [
          { sku: 'shoe', quantity: 1, price: '400.00', brand: 'nike' },
          { sku: 'bag', quantity: 1, price: '100.00' },
        ],
      }),
    )
    const w = { nike: 40000, '': 10000 }
    expect(byBrand(all, 'adidas')).toMatchObject({ refunds: 0, refunds_od: 0, gmv: 0, brand_orders: 0 })
    for (const brand of Object.keys(w))
      expect(byBrand(all, brand, (d) => d.minute === minuteOf(T + DAY))).toMatchObject({
        refunds: split(5000, w)[brand],
        brand_refund_count: 1,
      })
    expect(byBrand(all, 'nike', (d) => d.minute === M)).toMatchObject({
      gmv: split(59000, w).nike,
      refunds_od: split(5000, w).nike,
      brand_refund_count_od: 1,
    })
  })

  it('a refund and a fee before their order wait on brand "" with their own store, then split with the order', () => {
    const { send, all } = setup()
    send(refund({ amount: '10.00', store: 'south', items: [{ sku: 'shoe', quantity: 1, subtotal: '10.00' }] }))
    send({
      id: nextId(),
      type: 'fee.charged',
      ts: T + DAY,
      source: 'shopify',
      amount: '3.00',
      kind: 'pay',
      order_id: 'o-1',
      store: 'south',
    })
    send(cancel({ store: 'south' }))
    expect(totals(all.filter((d) => d.channel === 'unknown' && d.store === 'south'))).toMatchObject({
      refunds: 1000,
      fees: 300,
      cancelled_orders: 1,
      brand_cancelled_orders: 1,
    })
    send(created({ items, store: 'north' }))
    expect(totals(all.filter((d) => d.store === 'south')).refunds).toBe(0)
    expect(byBrand(all, 'nike')).toMatchObject({ refunds: 1000, fees: split(300, weights).nike, brand_refund_count: 1 })
    expect(byBrand(all, 'adidas')).toMatchObject({
      refunds: 0,
      fees: split(300, weights).adidas,
      brand_refund_count: 0,
    })
    const cancels = totals(all)
    expect(cancels).toMatchObject({ cancelled_orders: 1, brand_cancelled_orders: 3, cancelled_orders_od: 1 })
    expect(all.filter((d) => !d.category && d.store !== 'north' && totals([d]).gmv !== 0)).toEqual([])
  })

  it('statements of two stores stand side by side', () => {
    const { send, all } = setup()
    const spend = (store: string, value: string) => ({
      id: nextId(),
      type: 'ad.spend',
      ts: T,
      source: 'meta_ads',
      platform: 'facebook',
      campaign_id: 'c',
      spend: value,
      store,
      reported_at: T,
    })
    send(spend('north', '10.00'))
    send(spend('south', '20.00'))
    send({ ...spend('north', '15.00'), reported_at: T + 1 })
    expect(totals(all.filter((d) => d.store === 'north')).ad_spend).toBe(1500)
    expect(totals(all.filter((d) => d.store === 'south')).ad_spend).toBe(2000)
  })
})
