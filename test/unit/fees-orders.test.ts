// Fees and net profit (docs/metrics.md, "Fees and net profit") in the processor and the KPIs, the
// exact split of a campaign-day's ad spend across its orders, and one order's answer, all pure.
import { describe, expect, it } from 'vitest'
import { event } from '../../common/events.ts'
import { kpisOf } from '../../stream/kpis.ts'
import { measuresOf } from '../../stream/measures.ts'
import { createProcessor } from '../../stream/processor.ts'
import { type CampaignDay, adSpendShare, orderView } from '../../query/order-view.ts'
import { campaignDayOf } from '../../query/order-routes.ts'
import {
  cancel,
  created,
  DAY,
  HORIZON,
  inr,
  LATENESS,
  nextId,
  refund,
  setup,
  T,
  totals,
  updated,
} from './processor-fixtures.ts'

const fee = (over: Record<string, unknown> = {}) => ({
  id: nextId(),
  type: 'fee.charged',
  ts: T + DAY,
  source: 'stripe',
  amount: '2.50',
  kind: 'payout',
  ...over,
})

describe('fees in the processor', () => {
  it('adds order fees, replaces them on an edit, takes back refund fees, adds fee.charged, keeps them on cancellation', () => {
    const { send, all } = setup()
    send(created({ fees: '35.40' }))
    send(updated({ ts: T + 60_000, fees: '17.70' })) // the edit stands: 17.70, not 35.40 + 17.70
    send(refund({ fees: '3.00' }))
    send(fee({ order_id: 'o-1', amount: '1.25' }))
    send(fee({ amount: '9.99' })) // billed apart from any order
    send(cancel()) // changes no money
    const t = totals(all)
    expect([t.fees, t.fees_od]).toEqual([1770 - 300 + 125 + 999, 1770 - 300 + 125 + 999])
  })

  it('places refund fees and an order’s fee.charged by their own time, or at the order’s window (view=order_date)', () => {
    const { send, deltasOf } = setup()
    send(created({ fees: '10.00' }))
    const refunded = deltasOf(send(refund({ ts: T + DAY, fees: '4.00' })))
    const ownMinute = refunded.filter((d) => d.minute === T + DAY)
    const orderMinute = refunded.filter((d) => d.minute === T)
    expect([totals(ownMinute).fees, totals(ownMinute).fees_od]).toEqual([-400, 0])
    expect([totals(orderMinute).fees, totals(orderMinute).fees_od]).toEqual([0, -400])
  })

  it('a fee.charged of an order not seen yet waits under channel unknown, then moves with its order', () => {
    const { send, all } = setup()
    send(fee({ order_id: 'o-1', ts: T, amount: '5.00' }))
    expect(totals(all.filter((d) => d.channel === 'unknown')).fees).toBe(500)
    send(created({ fees: '1.00' }))
    expect(totals(all.filter((d) => d.channel === 'unknown')).fees).toBe(0)
    expect(totals(all.filter((d) => d.channel === 'facebook')).fees).toBe(600)
  })

  it('net_profit is contribution_margin − fees, fees placed by the view', () => {
    const m = measuresOf({
      subtotal: 100_000,
      cogs: 40_000,
      shipping_cost: 5_000,
      ad_spend: 10_000,
      fees: 3_001,
      fees_od: 2_000,
    })
    expect(kpisOf(m, 2, 'transaction_date')).toMatchObject({
      contribution_margin: '450.00',
      fees: '30.01',
      net_profit: '419.99',
    })
    expect(kpisOf(m, 2, 'order_date')).toMatchObject({ fees: '20.00', net_profit: '430.00' })
  })

  it('refuses negative or non-money fees and a fee.charged without amount or kind, naming the field', () => {
    const path = (raw: Record<string, unknown>) => event.safeParse(raw).error?.issues.map((i) => i.path.join('.'))
    expect(path(created({ fees: '-1.00' }))).toEqual(['fees'])
    expect(path(created({ fees: 'lots' }))).toEqual(['fees'])
    expect(path(refund({ fees: -2 }))).toEqual(['fees'])
    const { amount: _a, ...noAmount } = fee()
    expect(path(noAmount)).toEqual(['amount'])
    const { kind: _k, ...noKind } = fee()
    expect(path(noKind)).toEqual(['kind'])
    expect(path(fee({ amount: '10000000000.01' }))).toEqual(['amount'])
    expect(event.safeParse(fee({ amount: '10000000000' })).success).toBe(true)
  })
})

describe('an order’s share of its campaign-day’s ad spend', () => {
  const day = (adSpend: number, gmvs: Record<string, number>): CampaignDay => ({
    campaignId: 'c',
    day: '2026-11-22',
    adSpend,
    orders: Object.entries(gmvs).map(([orderId, gmv]) => ({ orderId, gmv })),
  })

  it('splits by GMV, leftover units to the largest remainders (ties: order id), summing to the spend', () => {
    // 100 minor units over thirds: 33.33… each, one unit left, the tie goes to 'a'.
    const thirds = day(100, { b: 10, a: 10, c: 10 })
    expect(['a', 'b', 'c'].map((id) => adSpendShare(id, thirds))).toEqual([34, 33, 33])
    // 1000 over 1 : 2 : 4 → 142.857, 285.714, 571.428: floors 142 + 285 + 571 = 998; remainders .857, .714, .428.
    const sevenths = day(1000, { x: 100, y: 200, z: 400 })
    expect(['x', 'y', 'z'].map((id) => adSpendShare(id, sevenths))).toEqual([143, 286, 571])
  })

  it('splits equally when every order of the campaign-day has GMV 0, and stays exact past 2^53 products', () => {
    expect(['a', 'b'].map((id) => adSpendShare(id, day(3, { a: 0, b: 0 })))).toEqual([2, 1])
    const big = day(9_000_000_000_000, { a: 9_999_999_999_999, b: 1 })
    expect(adSpendShare('a', big) + adSpendShare('b', big)).toBe(9_000_000_000_000)
  })
})

describe('one order’s answer', () => {
  it('reads the order index and the standing statements: figures, revisions, refunds, fees, ad spend share', () => {
    const processor = createProcessor({ dedupHorizonMs: HORIZON, latenessMs: LATENESS })
    let clock = T
    const send = (raw: Record<string, unknown>) =>
      processor.apply(inr, event.parse(raw), { receivedAt: (clock += 1000) })
    const campaign = { campaign_id: 'fb-1', customer_id: 'c-1' }
    send(created({ ...campaign, fees: '20.00' })) // 1180 total
    send(updated({ ...campaign, ts: T + 60_000, fees: '12.00' })) // 590 total, shipping cost 40, lines: a × 1 at 500
    send(created({ ...campaign, order_id: 'o-2', total: '1000.00', customer_id: 'c-2' }))
    send(created({ order_id: 'o-3', channel: 'organic', total: '5000.00' })) // organic: no share
    send(refund({ amount: '59.00', subtotal: '50.00', fees: '1.50' }))
    send(fee({ order_id: 'o-1', amount: '0.75', kind: 'chargeback' }))
    send(cancel())
    send({
      id: nextId(),
      type: 'ad.spend',
      ts: T - 3_600_000,
      source: 'meta_ads',
      platform: 'facebook',
      campaign_id: 'fb-1',
      spend: '100.00',
    })

    const orders = processor.orders(inr.id)
    const slot = orders.find('o-1')
    const day = campaignDayOf(processor, inr, slot)
    expect(day).toMatchObject({ campaignId: 'fb-1', day: '2026-11-22', adSpend: 10_000 })
    const view = orderView({
      orderId: 'o-1',
      order: orders.get(slot),
      attachments: orders.attachments(slot),
      customerId: 'c-1',
      currency: 'INR',
      digits: 2,
      campaign: day,
    })
    // Spend 100.00 split 590 : 1000 → 37.106… and 62.893…: 37.11 for o-1 (largest remainder), 62.89 for o-2.
    const cogs = 20_000 // 40 % of 500.00
    const netProfit = 50_000 - 5_000 - cogs - 4_000 - (1_200 - 150 + 75) - 3_711
    expect(view).toMatchObject({
      order_id: 'o-1',
      customer_id: 'c-1',
      revisions: 2,
      created: true,
      cancelled: true,
      lines: [{ sku: 'a', quantity: 1, revenue: '500.00', cogs: '200.00' }],
      refunds: [{ amount: '59.00', subtotal: '50.00', fees: '1.50' }],
      fees_charged: [{ kind: 'chargeback', amount: '0.75', source: 'stripe' }],
      gmv: '590.00',
      net_sales: '450.00',
      cogs: '200.00',
      gross_profit: '250.00',
      shipping_cost: '40.00',
      fees: '11.25',
      ad_spend: '37.11',
      net_profit: (netProfit / 100).toFixed(2),
      attribution: { campaign_ad_spend: '100.00', campaign_attributed_revenue: '1590.00', campaign_orders: 2 },
    })
    const other = campaignDayOf(processor, inr, orders.find('o-2'))!
    expect(adSpendShare('o-1', other) + adSpendShare('o-2', other)).toBe(10_000)
    expect(campaignDayOf(processor, inr, orders.find('o-3'))).toBeUndefined()
  })
})
