import { describe, it, expect } from 'vitest'
import { event } from '../../common/events.ts'
import type { Delta } from '../../stream/processor.ts'
import { HOUR, MINUTE, minuteOf } from '../../stream/windows.ts'
import { cancel, created, nextId, refund, updated } from './processor-fixtures.ts'
import {
  COARSE,
  DAY,
  HORIZON,
  M,
  T,
  type Totals,
  editLevel,
  inr,
  jpy,
  net,
  nonZero,
  orderLevel,
  placed,
  setup,
  totals,
} from './processor-fixtures.ts'

/** Σ per measure of the deltas in one minute bin (optionally one channel). */
function totalsAt(deltas: Delta[], minute: number, channel?: string): Totals {
  return totals(deltas.filter((d) => d.minute === minute && (channel === undefined || d.channel === channel)))
}

/** A delta as a plain object with only its non-zero measures. */
function shape(d: Delta) {
  return { minute: d.minute, source: d.source, channel: d.channel, values: nonZero(totals([d])) }
}

/** The item figures of `created()`'s line items, in orders whose order-level figures a test overrides. */
const createdItems = { item_revenue: 110000, item_units: 3, cogs: 44000 }

/** `created()`'s order-level figures and its line items (40 % default COGS): 2 × 400 + 300. */
const createdFigures: Partial<Totals> = { ...orderLevel, ...createdItems }

const updatedFigures: Partial<Totals> = { ...editLevel, item_revenue: 50000, item_units: 1, cogs: 20000 }

const DAY_START = Date.parse('2026-11-22T00:00:00+05:30')

function spend(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: nextId(),
    type: 'ad.spend',
    ts: DAY_START,
    source: 'meta_ads',
    platform: 'facebook',
    campaign_id: 'cmp-1',
    spend: '1000.00',
    ...over,
  }
}

function cost(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: nextId(),
    type: 'marketing.cost',
    ts: DAY_START,
    source: 'klaviyo',
    platform: 'klaviyo',
    amount: '250.00',
    ...over,
  }
}

describe('processor: order.created', () => {
  it('counts an order with its exact figures in the minute of its ts', () => {
    const { send, deltasOf } = setup()
    const outcome = send(created({ ts: T + 42_000 }))
    expect(outcome).toMatchObject({ kind: 'applied', late: false })
    expect(net(deltasOf(outcome), COARSE)).toEqual([
      { minute: M, source: 'shopify', channel: 'facebook', values: createdFigures },
    ])
  })

  it('defaults shipping_cost to shipping and honours an explicit shipping_cost', () => {
    const { send, deltasOf } = setup()
    expect(totals(deltasOf(send(created()))).shipping_cost).toBe(3000)
    expect(totals(deltasOf(send(created({ order_id: 'o-2', shipping_cost: '55.55' })))).shipping_cost).toBe(5555)
  })

  it.each([
    ['facebook', 118000],
    ['google', 118000],
    ['organic', 0],
    [undefined, 0],
  ])('attributed_revenue for channel %s is %i', (channel, expected) => {
    const { send, deltasOf } = setup()
    const d = deltasOf(send(created({ channel })))
    expect(totals(d).attributed_revenue).toBe(expected)
    expect(totals(d).gmv).toBe(118000)
    expect(d[0].channel).toBe(channel ?? 'organic')
  })

  it('sums units over item quantities and counts an order without items', () => {
    const { send, deltasOf } = setup()
    const d = deltasOf(
      send(
        created({
          items: [
            { sku: 'x', quantity: 7, price: '1' },
            { sku: 'y', quantity: 0, price: '1' },
          ],
        }),
      ),
    )
    expect(totals(d).units).toBe(7)
    expect(totals(deltasOf(send(created({ order_id: 'o-2', items: [] })))).units).toBe(0)
  })

  it('rounds micros-like amounts half away from zero', () => {
    const { send, deltasOf } = setup()
    const d = deltasOf(
      send(
        created({ total: '0.005', subtotal: '1.234567', discounts: '0.004', tax: 0, shipping: 0, channel: 'organic' }),
      ),
    )
    expect(nonZero(totals(d))).toEqual({ gmv: 1, orders: 1, units: 3, subtotal: 123, ...createdItems })
  })

  it('converts foreign-currency money through Arrival.fx (10.00 USD at 83.1234 → 83123 paise)', () => {
    const { send, deltasOf } = setup()
    const d = deltasOf(
      send(
        created({ currency: 'USD', total: '10.00', subtotal: '8.00', discounts: '0', tax: '1.00', shipping: '1.00' }),
        { fx: '83.1234' },
      ),
    )
    expect(nonZero(totals(d))).toEqual({
      gmv: 83123, // 831.234
      orders: 1,
      units: 3,
      subtotal: 66499, // 664.9872
      tax: 8312, // 83.1234
      shipping: 8312,
      shipping_cost: 8312,
      attributed_revenue: 83123,
      // Item prices convert too: 400 × 83.1234 = 33249.36 (× 2), 300 × 83.1234 = 24937.02.
      item_revenue: 9143574,
      item_units: 3,
      // 40 % per line, rounded per line: 26599.488 → 2659949, 9974.808 → 997481.
      cogs: 3657430,
    })
  })

  it('converts into a zero-digit tenant currency (10.00 USD at 150.555 → 1506 yen)', () => {
    const { send, deltasOf } = setup(jpy)
    const d = deltasOf(
      send(created({ currency: 'USD', total: '10.00', subtotal: '10.00', discounts: '0', tax: '0', shipping: '0' }), {
        fx: '150.555',
      }),
    )
    expect(totals(d).gmv).toBe(1506)
    expect(totals(d).subtotal).toBe(1506)
  })

  it('keeps JPY figures in whole yen without a rate', () => {
    const { send, deltasOf } = setup(jpy)
    const d = deltasOf(
      send(created({ total: '1180.5', subtotal: '1000', discounts: '0', tax: '180.5', shipping: '0' })),
    )
    expect(totals(d).gmv).toBe(1181)
    expect(totals(d).tax).toBe(181)
  })

  it('keeps tenants apart', () => {
    const { processor } = setup()
    const e = event.parse(created({ id: 'shared-id' }))
    expect(processor.apply(inr, e, { receivedAt: T }).kind).toBe('applied')
    expect(processor.apply(jpy, e, { receivedAt: T }).kind).toBe('applied')
    expect(processor.apply(inr, e, { receivedAt: T + 1 }).kind).toBe('duplicate')
  })

  it('produces no deltas for shopper events (only the customer they touch)', () => {
    const { send } = setup()
    for (const type of ['product.viewed', 'search', 'cart.added', 'checkout.started']) {
      expect(send({ id: nextId(), type, ts: T, source: 'shopify', customer_id: 'c-1' })).toEqual({
        kind: 'applied',
        deltas: [],
        late: false,
        customers: ['c-1'],
      })
    }
  })
})

describe('processor: order.updated', () => {
  it('replaces the figures in the same minute: the net effect is new − old', () => {
    const { send, deltasOf, all } = setup()
    send(created())
    const d = deltasOf(send(updated({ ts: T + 30_000 })))
    expect(net(d, COARSE)).toEqual([
      {
        minute: M,
        source: 'shopify',
        channel: 'facebook',
        values: {
          gmv: -59000,
          units: -2,
          subtotal: -50000,
          discounts: -10000,
          tax: -7500,
          shipping: -1500,
          shipping_cost: 1000,
          attributed_revenue: -59000,
          item_revenue: -60000,
          item_units: -2,
          cogs: -24000,
        },
      },
    ])
    expect(nonZero(totals(all))).toEqual(updatedFigures)
  })

  it("replaces the figures in the window of creation when the update's ts is in another minute", () => {
    const { send, deltasOf, all } = setup()
    send(created())
    const later = T + 3 * HOUR + 17_000
    const d = deltasOf(send(updated({ ts: later })))
    expect(d.every((x) => x.minute === M)).toBe(true)
    expect(nonZero(totalsAt(all, M))).toEqual(updatedFigures)
    expect(nonZero(totalsAt(all, minuteOf(later)))).toEqual({})
  })

  it('moves the figures between channels when an update changes the channel: −old at old, +new at new', () => {
    const { send, deltasOf, all } = setup()
    send(created())
    const d = deltasOf(send(updated({ ts: T + HOUR, channel: 'organic' })))
    // The new channel is not paid: no attributed revenue.
    const { attributed_revenue, ...organicFigures } = updatedFigures
    expect(net(d, COARSE)).toEqual(
      placed(
        [
          {
            minute: M,
            source: 'shopify',
            channel: 'facebook',
            values: {
              gmv: -118000,
              orders: -1,
              units: -3,
              subtotal: -100000,
              discounts: -10000,
              tax: -15000,
              shipping: -3000,
              shipping_cost: -3000,
              attributed_revenue: -118000,
              item_revenue: -110000,
              item_units: -3,
              cogs: -44000,
            },
          },
          { minute: M, source: 'shopify', channel: 'organic', values: organicFigures },
        ],
        COARSE,
      ),
    )
    expect(nonZero(totalsAt(all, M, 'facebook'))).toEqual({})
    expect(nonZero(totalsAt(all, M, 'organic'))).toEqual(organicFigures)
  })

  it('counts an order once however many times it is edited; the newest edit by event time stands', () => {
    const { send, all } = setup()
    send(created())
    send(updated({ ts: T + 2 * HOUR, total: '700.00' }))
    send(updated({ ts: T + 1 * HOUR, total: '650.00' })) // older edit arriving late: ignored
    send(updated({ ts: T + 3 * HOUR, total: '590.00' }))
    expect(nonZero(totals(all))).toEqual(updatedFigures)
    expect(totalsAt(all, M).orders).toBe(1)
  })

  it('lets the later arrival win between two edits with the same ts', () => {
    const { send, all } = setup()
    send(created())
    send(updated({ ts: T + HOUR, total: '700.00' }))
    send(updated({ ts: T + HOUR, total: '590.00' }))
    expect(totals(all).gmv).toBe(59000)
  })

  it('ignores an edit older than the figures that stand (no net change anywhere)', () => {
    const { send, deltasOf, all } = setup()
    send(created())
    send(updated({ ts: T + 2 * HOUR }))
    expect(
      net(deltasOf(send(updated({ ts: T + HOUR, total: '1.00', channel: 'google', campaign_id: 'cmp-9' })))),
    ).toEqual([])
    expect(nonZero(totals(all))).toEqual(updatedFigures)
  })

  it('an update arriving before its create: counted at once, then moved to the window of creation', () => {
    const { send, deltasOf, all } = setup()
    const editTs = T + 2 * HOUR
    const first = deltasOf(send(updated({ ts: editTs })))
    expect(net(first, COARSE)).toEqual([
      { minute: minuteOf(editTs), source: 'shopify', channel: 'facebook', values: updatedFigures },
    ])

    const second = deltasOf(send(created()))
    // Moved whole: out of the edit's minute, into the create's.
    const minus = Object.fromEntries(Object.entries(updatedFigures).map(([k, v]) => [k, -v]))
    expect(net(second, COARSE)).toEqual(
      placed(
        [
          { minute: M, source: 'shopify', channel: 'facebook', values: updatedFigures },
          { minute: minuteOf(editTs), source: 'shopify', channel: 'facebook', values: minus },
        ],
        COARSE,
      ),
    )
    // The create is older by event time, so the edit's figures stand, in the create's window.
    expect(nonZero(totalsAt(all, M))).toEqual(updatedFigures)
    expect(nonZero(totalsAt(all, minuteOf(editTs)))).toEqual({})
    expect(nonZero(totals(all))).toEqual(updatedFigures)
  })

  it('an update before its create: a later edit still lands in the window of creation', () => {
    const { send, all } = setup()
    send(updated({ ts: T + 2 * HOUR }))
    send(created())
    send(updated({ ts: T + 5 * HOUR, total: '600.00' }))
    expect(totalsAt(all, M)).toMatchObject({ gmv: 60000, orders: 1 })
    expect(totals(all)).toMatchObject({ gmv: 60000, orders: 1 })
  })

  it('two edits before the create: the window follows the earliest edit until the create arrives', () => {
    const { send, all } = setup()
    send(updated({ ts: T + 3 * HOUR, total: '700.00' }))
    send(updated({ ts: T + 2 * HOUR, total: '650.00' }))
    expect(totalsAt(all, minuteOf(T + 2 * HOUR))).toMatchObject({ gmv: 70000, orders: 1 })
    expect(totals(all)).toMatchObject({ gmv: 70000, orders: 1 })
    send(created())
    expect(totalsAt(all, M)).toMatchObject({ gmv: 70000, orders: 1 })
    expect(totals(all)).toMatchObject({ gmv: 70000, orders: 1 })
  })

  it('a repeated order.created under a new event id does not count the order twice', () => {
    const { send, all } = setup()
    send(created())
    send(created({ ts: T + MINUTE }))
    expect(nonZero(totals(all))).toEqual(createdFigures)
    expect(nonZero(totalsAt(all, M))).toEqual(createdFigures)
  })
})

describe('processor: dedup', () => {
  it('treats a repeated event id within the horizon as a duplicate', () => {
    const { send, all } = setup()
    const e = created({ id: 'dup-1' })
    expect(send(e).kind).toBe('applied')
    expect(send(e)).toEqual({ kind: 'duplicate' })
    expect(send({ ...e, total: '1.00' }, { receivedAt: T + HORIZON })).toEqual({ kind: 'duplicate' })
    expect(nonZero(totals(all))).toEqual(createdFigures)
  })

  it('applies the same id again once the horizon has passed', () => {
    const { processor } = setup()
    const e = event.parse({ id: 'late-repeat', type: 'search', ts: T, source: 'custom', customer_id: 'c-1' })
    expect(processor.apply(inr, e, { receivedAt: T }).kind).toBe('applied')
    expect(processor.apply(inr, e, { receivedAt: T + HORIZON }).kind).toBe('duplicate')
    expect(processor.apply(inr, e, { receivedAt: T + HORIZON + 1 }).kind).toBe('applied')
    // The horizon restarts from the new first sighting.
    expect(processor.apply(inr, e, { receivedAt: T + HORIZON + 2 }).kind).toBe('duplicate')
  })

  it('an order re-applied after the horizon still counts once', () => {
    const { processor } = setup()
    const e = event.parse(created({ id: 'o-repeat' }))
    const first = processor.apply(inr, e, { receivedAt: T })
    const again = processor.apply(inr, e, { receivedAt: T + HORIZON + 1 })
    expect(again).toMatchObject({ kind: 'applied', late: false })
    expect(again.kind === 'applied' && net(again.deltas)).toEqual([])
    expect(first.kind === 'applied' && nonZero(totals(first.deltas))).toEqual(createdFigures)
  })

  it('hasSeen reports ids within the horizon only', () => {
    const { processor } = setup()
    processor.apply(inr, event.parse(created({ id: 'seen-1' })), { receivedAt: T })
    expect(processor.hasSeen(inr.id, 'seen-1', T + HORIZON)).toBe(true)
    expect(processor.hasSeen(inr.id, 'seen-1', T + HORIZON + 1)).toBe(false)
    expect(processor.hasSeen(inr.id, 'never', T)).toBe(false)
    expect(processor.hasSeen('other-tenant', 'seen-1', T)).toBe(false)
  })

  it('a custom horizon applies', () => {
    const { processor } = setup(inr, { dedupHorizonMs: 1000 })
    const e = event.parse(created({ id: 'short' }))
    processor.apply(inr, e, { receivedAt: T })
    expect(processor.apply(inr, e, { receivedAt: T + 1000 }).kind).toBe('duplicate')
    expect(processor.apply(inr, e, { receivedAt: T + 2001 }).kind).toBe('applied')
  })

  it('stays exact across many ids (the forgetting sweep keeps ids inside the horizon)', () => {
    const { processor } = setup(inr, { dedupHorizonMs: 10_000 })
    for (let i = 0; i < 2100; i++) {
      processor.apply(inr, event.parse({ id: `s-${i}`, type: 'search', ts: T, source: 'custom', customer_id: 'c' }), {
        receivedAt: T + i * 10,
      })
    }
    const now = T + 2100 * 10
    // Ids first seen within 10 s of `now` are still duplicates; older ones are not.
    expect(
      processor.apply(inr, event.parse({ id: 's-2099', type: 'search', ts: T, source: 'custom', customer_id: 'c' }), {
        receivedAt: now,
      }).kind,
    ).toBe('duplicate')
    expect(
      processor.apply(inr, event.parse({ id: 's-0', type: 'search', ts: T, source: 'custom', customer_id: 'c' }), {
        receivedAt: now,
      }).kind,
    ).toBe('applied')
  })
})

describe('processor: refunds', () => {
  it('puts a refund in its own minute (refunds) and in the order minute (refunds_od), on the order channel', () => {
    const { send, deltasOf } = setup()
    send(created())
    const d = deltasOf(send(refund()))
    expect(d.map(shape)).toEqual([
      {
        minute: minuteOf(T + DAY),
        source: 'shopify',
        channel: 'facebook',
        values: { refunds: 11800, refund_subtotal: 10000, refund_count: 1 },
      },
      {
        minute: M,
        source: 'shopify',
        channel: 'facebook',
        values: { refunds_od: 11800, refund_subtotal_od: 10000, refund_count_od: 1 },
      },
    ])
  })

  it('counts a refund once per refund_id, whatever its event id', () => {
    const { send, deltasOf, all } = setup()
    send(created())
    send(refund({ refund_id: 'r-1' }))
    expect(deltasOf(send(refund({ refund_id: 'r-1', ts: T + 2 * DAY })))).toEqual([])
    send(refund({ refund_id: 'r-2', amount: '10.00', subtotal: '5.00' }))
    expect(nonZero(totals(all))).toMatchObject({
      refunds: 12800,
      refund_subtotal: 10500,
      refund_count: 2,
      refunds_od: 12800,
      refund_subtotal_od: 10500,
      refund_count_od: 2,
    })
  })

  it('counts refunds without refund_id once per event id', () => {
    const { send, all } = setup()
    send(created())
    send(refund({ refund_id: undefined, amount: '1.00', subtotal: undefined }))
    send(refund({ refund_id: undefined, amount: '2.00', subtotal: undefined }))
    expect(totals(all)).toMatchObject({ refunds: 300, refund_subtotal: 300, refund_count: 2 })
  })

  it('defaults the refund subtotal to its amount', () => {
    const { send, deltasOf } = setup()
    send(created())
    expect(totals(deltasOf(send(refund({ subtotal: undefined, amount: '33.335' }))))).toMatchObject({
      refunds: 3334,
      refund_subtotal: 3334,
      refunds_od: 3334,
      refund_subtotal_od: 3334,
    })
  })

  it('converts a refund through Arrival.fx', () => {
    const { send, deltasOf } = setup()
    send(created())
    expect(
      totals(deltasOf(send(refund({ currency: 'USD', amount: '10.00', subtotal: '5.00' }), { fx: '83.1234' }))),
    ).toMatchObject({
      refunds: 83123,
      refund_subtotal: 41562, // 415.617
    })
  })

  it('places refunds_od in the window of creation even after the order moved there from an earlier update', () => {
    const { send, all } = setup()
    send(updated({ ts: T + 2 * HOUR }))
    send(created())
    send(refund())
    expect(totalsAt(all, M).refunds_od).toBe(11800)
  })

  it('changes no gmv or order count', () => {
    const { send, all } = setup()
    send(created())
    send(refund())
    expect(totals(all)).toMatchObject({ gmv: 118000, orders: 1, subtotal: 100000 })
  })

  it('a refund arriving before its order ends up in the window of the order for view=order_date', () => {
    const { send, all } = setup()
    send(refund())
    send(created())
    expect(totalsAt(all, M, 'facebook').refunds_od).toBe(11800)
    expect(totalsAt(all, minuteOf(T + DAY)).refunds_od).toBe(0)
    // Nothing is left on the placeholder channel it had while the order was unknown.
    expect(nonZero(totals(all.filter((d) => d.channel === 'unknown')))).toEqual({})
    expect(nonZero(totalsAt(all, minuteOf(T + DAY), 'facebook'))).toEqual({
      refunds: 11800,
      refund_subtotal: 10000,
      refund_count: 1,
    })
  })
})

describe('processor: cancellations', () => {
  it('counts a cancellation in its own minute and in the order minute, once per order', () => {
    const { send, deltasOf, all } = setup()
    send(created())
    const d = deltasOf(send(cancel()))
    expect(d.map(shape)).toEqual([
      { minute: minuteOf(T + 2 * HOUR), source: 'shopify', channel: 'facebook', values: { cancelled_orders: 1 } },
      { minute: M, source: 'shopify', channel: 'facebook', values: { cancelled_orders_od: 1 } },
    ])
    expect(deltasOf(send(cancel({ ts: T + 3 * HOUR })))).toEqual([])
    expect(totals(all)).toMatchObject({ cancelled_orders: 1, cancelled_orders_od: 1, gmv: 118000, orders: 1 })
  })

  it('counts cancellations of different orders separately', () => {
    const { send, all } = setup()
    send(created())
    send(created({ order_id: 'o-2' }))
    send(cancel())
    send(cancel({ order_id: 'o-2' }))
    expect(totals(all)).toMatchObject({ cancelled_orders: 2, cancelled_orders_od: 2 })
  })

  it('a cancellation arriving before its order ends up in the window of the order for view=order_date', () => {
    const { send, all } = setup()
    send(cancel())
    send(created())
    expect(totalsAt(all, M, 'facebook').cancelled_orders_od).toBe(1)
    expect(nonZero(totals(all.filter((d) => d.channel === 'unknown')))).toEqual({})
    expect(nonZero(totalsAt(all, minuteOf(T + 2 * HOUR), 'facebook'))).toEqual({ cancelled_orders: 1 })
  })
})

describe('processor: ad.spend statements', () => {
  it('counts a statement whole in the minute of its ts, on the platform as channel', () => {
    const { send, deltasOf } = setup()
    const d = deltasOf(send(spend({ spend: '1234.567891', reported_at: T })))
    expect(d.map(shape)).toEqual([
      { minute: DAY_START, source: 'meta_ads', channel: 'facebook', values: { ad_spend: 123457 } },
    ])
  })

  it('a later reported_at replaces the standing statement (net new − old)', () => {
    const { send, deltasOf, all } = setup()
    send(spend({ spend: '1000.00', reported_at: T }))
    const d = deltasOf(send(spend({ spend: '1500.00', reported_at: T + HOUR })))
    expect(net(d)).toEqual(
      placed([
        {
          minute: DAY_START,
          source: 'meta_ads',
          channel: 'facebook',
          campaign_id: 'cmp-1',
          values: { ad_spend: 50000 },
        },
      ]),
    )
    expect(nonZero(totals(all))).toEqual({ ad_spend: 150000 })
  })

  it('a lower restatement produces a negative delta', () => {
    const { send, deltasOf, all } = setup()
    send(spend({ spend: '1000.00', reported_at: T }))
    expect(totals(deltasOf(send(spend({ spend: '900.00', reported_at: T + HOUR })))).ad_spend).toBe(-10000)
    expect(totals(all).ad_spend).toBe(90000)
  })

  it('an older reported_at arriving later is ignored', () => {
    const { send, deltasOf, all } = setup()
    send(spend({ spend: '1500.00', reported_at: T + HOUR }))
    expect(deltasOf(send(spend({ spend: '1000.00', reported_at: T })))).toEqual([])
    expect(totals(all).ad_spend).toBe(150000)
  })

  it('on a reported_at tie the later arrival wins', () => {
    const { send, all } = setup()
    send(spend({ spend: '1000.00', reported_at: T }))
    send(spend({ spend: '1200.00', reported_at: T }))
    expect(totals(all).ad_spend).toBe(120000)
  })

  it('reported_at defaults to receivedAt', () => {
    const { send, deltasOf, all } = setup()
    send(spend({ spend: '1000.00' }), { receivedAt: T + HOUR })
    // Explicitly reported before it was received: older, ignored.
    expect(deltasOf(send(spend({ spend: '900.00', reported_at: T + HOUR - 1 })))).toEqual([])
    // Same instant: a tie, the later arrival wins.
    send(spend({ spend: '1100.00', reported_at: T + HOUR }))
    expect(totals(all).ad_spend).toBe(110000)
    // Received later without reported_at: newer.
    send(spend({ spend: '1300.00' }), { receivedAt: T + 2 * HOUR })
    expect(totals(all).ad_spend).toBe(130000)
    // Received earlier (a replayed old report) without reported_at: older, ignored.
    send(spend({ spend: '1.00' }), { receivedAt: T })
    expect(totals(all).ad_spend).toBe(130000)
  })

  it('never adds statements together: many restatements leave exactly the standing one', () => {
    const { send, all } = setup()
    for (let i = 1; i <= 24; i++) send(spend({ spend: `${i * 100}.00`, reported_at: T + i * HOUR }))
    send(spend({ spend: '5.00', reported_at: T })) // a stale one
    expect(nonZero(totals(all))).toEqual({ ad_spend: 240000 })
  })

  it.each([
    ['campaign', { campaign_id: 'cmp-2' }],
    ['platform', { platform: 'instagram' }],
    ['period', { period: 'hour' }],
    ['ts', { ts: DAY_START + HOUR }],
  ])('statements differing in %s both stand', (_label, patch) => {
    const { send, all } = setup()
    send(spend({ spend: '1000.00', reported_at: T + HOUR }))
    send(spend({ spend: '300.00', reported_at: T, ...patch }))
    expect(totals(all).ad_spend).toBe(130000)
  })

  it('the same ts as ISO with offset and as epoch ms is the same statement', () => {
    const { send, all } = setup()
    send(spend({ ts: '2026-11-22T00:00:00+05:30', spend: '1000.00', reported_at: T }))
    send(spend({ ts: DAY_START, spend: '700.00', reported_at: T + 1 }))
    expect(totals(all).ad_spend).toBe(70000)
  })

  it('moves the figure when the restatement comes from another source', () => {
    const { send, deltasOf, all } = setup()
    send(spend({ spend: '1000.00', reported_at: T }))
    const d = deltasOf(send(spend({ source: 'custom', spend: '1000.00', reported_at: T + 1 })))
    expect(d.map(shape)).toEqual([
      { minute: DAY_START, source: 'meta_ads', channel: 'facebook', values: { ad_spend: -100000 } },
      { minute: DAY_START, source: 'custom', channel: 'facebook', values: { ad_spend: 100000 } },
    ])
    expect(totals(all).ad_spend).toBe(100000)
  })

  it('a restatement with the same figure changes nothing', () => {
    const { send, deltasOf, all } = setup()
    send(spend({ reported_at: T }))
    expect(net(deltasOf(send(spend({ reported_at: T + 1 }))))).toEqual([])
    expect(net(all)).toEqual(
      placed([
        {
          minute: DAY_START,
          source: 'meta_ads',
          channel: 'facebook',
          campaign_id: 'cmp-1',
          values: { ad_spend: 100000 },
        },
      ]),
    )
  })

  it('converts spend through Arrival.fx', () => {
    const { send, deltasOf } = setup()
    expect(totals(deltasOf(send(spend({ currency: 'USD', spend: '10.00' }), { fx: '83.1234' }))).ad_spend).toBe(83123)
  })
})

describe('processor: marketing.cost statements', () => {
  it('counts marketing_cost on the platform channel', () => {
    const { send, deltasOf } = setup()
    expect(deltasOf(send(cost({ reported_at: T }))).map(shape)).toEqual([
      { minute: DAY_START, source: 'klaviyo', channel: 'klaviyo', values: { marketing_cost: 25000 } },
    ])
  })

  it('later reported_at replaces, older is ignored, ties go to the later arrival, default is receivedAt', () => {
    const { send, deltasOf, all } = setup()
    send(cost({ amount: '100.00', reported_at: T }))
    send(cost({ amount: '150.00', reported_at: T + HOUR }))
    expect(totals(all).marketing_cost).toBe(15000)
    expect(deltasOf(send(cost({ amount: '120.00', reported_at: T + 1 })))).toEqual([])
    send(cost({ amount: '160.00', reported_at: T + HOUR }))
    expect(totals(all).marketing_cost).toBe(16000)
    send(cost({ amount: '170.00' }), { receivedAt: T + 2 * HOUR })
    expect(totals(all).marketing_cost).toBe(17000)
    send(cost({ amount: '1.00' }), { receivedAt: T + HOUR })
    expect(nonZero(totals(all))).toEqual({ marketing_cost: 17000 })
  })

  it('is a separate statement from an ad.spend with the same platform, campaign, period and ts', () => {
    const { send, all } = setup()
    send(spend({ platform: 'klaviyo', campaign_id: 'flow-1', spend: '10.00', reported_at: T }))
    send(cost({ campaign_id: 'flow-1', amount: '20.00', reported_at: T }))
    expect(nonZero(totals(all))).toEqual({ ad_spend: 1000, marketing_cost: 2000 })
  })

  it('keeps a statement with a campaign apart from one without', () => {
    const { send, all } = setup()
    send(cost({ amount: '10.00', reported_at: T }))
    send(cost({ amount: '20.00', campaign_id: 'flow-1', reported_at: T }))
    expect(totals(all).marketing_cost).toBe(3000)
  })
})

describe('processor: freshness and lateness', () => {
  it('tracks the latest event time per source and counts events behind the watermark as late', () => {
    const { send, processor } = setup()
    expect(send(created({ ts: T })).kind === 'applied').toBe(true)
    expect(send(created({ order_id: 'o-2', ts: T + 10 * MINUTE }))).toMatchObject({ late: false })
    // Watermark is now T + 10 min − 5 min = T + 5 min.
    expect(send(created({ order_id: 'o-3', ts: T + 5 * MINUTE }))).toMatchObject({ late: false })
    const late = send(created({ order_id: 'o-4', ts: T + 5 * MINUTE - 1 }))
    expect(late).toMatchObject({ kind: 'applied', late: true })
    // Late events are folded in anyway.
    expect(late.kind === 'applied' && totals(late.deltas).orders).toBe(1)
    expect(send(created({ order_id: 'o-5', ts: T - DAY }))).toMatchObject({ late: true })
    expect(processor.freshness(inr.id).get('shopify')).toEqual({ latestEventAt: T + 10 * MINUTE, lateEvents: 2 })
  })

  it('keeps freshness per source', () => {
    const { send, processor } = setup()
    send(created({ ts: T + HOUR }))
    expect(send(spend({ ts: T, reported_at: T }))).toMatchObject({ late: false })
    expect(send(cost({ ts: T - HOUR }))).toMatchObject({ late: false })
    expect(Object.fromEntries(processor.freshness(inr.id))).toEqual({
      shopify: { latestEventAt: T + HOUR, lateEvents: 0 },
      meta_ads: { latestEventAt: T, lateEvents: 0 },
      klaviyo: { latestEventAt: T - HOUR, lateEvents: 0 },
    })
  })

  it('counts a late statement even when it is stale and changes nothing', () => {
    const { send, processor } = setup()
    send(spend({ ts: T, reported_at: T + 2 * HOUR }))
    send(spend({ ts: T + HOUR, campaign_id: 'cmp-2', reported_at: T + 2 * HOUR }))
    const outcome = send(spend({ ts: T, reported_at: T }))
    expect(outcome).toEqual({ kind: 'applied', deltas: [], late: true, customers: [] })
    expect(processor.freshness(inr.id).get('meta_ads')).toEqual({ latestEventAt: T + HOUR, lateEvents: 1 })
  })

  it('does not count duplicates towards freshness', () => {
    const { send, processor } = setup()
    send(created({ id: 'fresh-1', ts: T + HOUR }))
    send(created({ id: 'fresh-2', order_id: 'o-2', ts: T }))
    send(created({ id: 'fresh-2', order_id: 'o-2', ts: T }))
    expect(processor.freshness(inr.id).get('shopify')).toEqual({ latestEventAt: T + HOUR, lateEvents: 1 })
  })

  it('uses the configured lateness', () => {
    const { send, processor } = setup(inr, { latenessMs: 0 })
    send(created({ ts: T }))
    expect(send(created({ order_id: 'o-2', ts: T }))).toMatchObject({ late: false })
    expect(send(created({ order_id: 'o-3', ts: T - 1 }))).toMatchObject({ late: true })
    expect(processor.freshness(inr.id).get('shopify')?.lateEvents).toBe(1)
  })
})

describe('processor: a mixed day adds up exactly', () => {
  it('nets out creates, edits, refunds, cancellations and restatements', () => {
    const { send, all } = setup()
    send(
      created({
        order_id: 'a',
        total: '100.01',
        subtotal: '90.00',
        tax: '10.01',
        shipping: '0',
        discounts: '0',
        channel: 'google',
      }),
    )
    send(
      created({
        order_id: 'b',
        total: '200.02',
        subtotal: '180.00',
        tax: '20.02',
        shipping: '0',
        discounts: '0',
        channel: 'organic',
      }),
    )
    send(
      updated({
        order_id: 'a',
        ts: T + HOUR,
        total: '50.50',
        subtotal: '45.00',
        tax: '5.50',
        shipping: '0',
        shipping_cost: undefined,
        channel: 'google',
      }),
    )
    send(refund({ order_id: 'b', refund_id: 'rb', amount: '20.00', subtotal: '18.00' }))
    send(refund({ order_id: 'b', refund_id: 'rb', amount: '20.00', subtotal: '18.00' }))
    send(cancel({ order_id: 'a' }))
    send(spend({ platform: 'google', source: 'google_ads', spend: '10.00', reported_at: T }))
    send(spend({ platform: 'google', source: 'google_ads', spend: '12.345', reported_at: T + 1 }))
    send(cost({ amount: '3.00' }))
    expect(nonZero(totals(all))).toEqual({
      gmv: 25052,
      orders: 2,
      units: 4,
      subtotal: 22500,
      tax: 2552,
      attributed_revenue: 5050,
      // a as edited (1 × 500) and b as created (2 × 400 + 300), 40 % default COGS.
      item_revenue: 160000,
      item_units: 4,
      cogs: 64000,
      refunds: 2000,
      refund_subtotal: 1800,
      refund_count: 1,
      cancelled_orders: 1,
      refunds_od: 2000,
      refund_subtotal_od: 1800,
      refund_count_od: 1,
      cancelled_orders_od: 1,
      ad_spend: 1235,
      marketing_cost: 300,
    })
  })
})
