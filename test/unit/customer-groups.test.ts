// New, returning and guest orders read from the order index (stream/customer-groups.ts): edits
// that move an order to another customer or window, cancelled first orders, guests, refunds by
// either view, day ranges, and a random history against a plain computation.
import { describe, expect, it } from 'vitest'
import {
  type CustomerGroupSums,
  customerGroupFigures,
  customerGroupsOf,
  zeroGroupSums,
} from '../../stream/customer-groups.ts'
import { type StoredOrder, createOrderIndex } from '../../stream/order-index.ts'

const T = Date.parse('2026-11-01T00:00:00Z')
const DAY = 86_400_000
const RANGE = { from: T, to: T + DAY }

function order(customer: number, windowTs: number, gmv: number, subtotal: number): StoredOrder {
  return {
    windowTs,
    figuresTs: windowTs,
    created: true,
    highIntent: false,
    customer,
    revisions: 1,
    place: { source: 'shopify', channel: 'organic', campaign_id: '', city: '', store: '' },
    figures: { gmv, subtotal, discounts: 0, tax: gmv - subtotal, shipping: 0, shippingCost: 0, fees: 0 },
    lines: [],
  }
}

const refund = (minute: number, amount: number, subtotal = amount) =>
  ({ kind: 'refund', source: 'shopify', minute, amount, subtotal, fees: 0, feeKind: '', store: '' }) as const
const cancel = (minute: number) =>
  ({ kind: 'cancel', source: 'shopify', minute, amount: 0, subtotal: 0, fees: 0, feeKind: '', store: '' }) as const

const sums = (partial: { [G in keyof CustomerGroupSums]?: Partial<CustomerGroupSums[G]> }): CustomerGroupSums => {
  const out = zeroGroupSums()
  for (const g of ['new', 'returning', 'guest'] as const) Object.assign(out[g], partial[g])
  return out
}

describe('new and returning customers', () => {
  it('splits the orders of a range by whether their customer ordered before it; guests apart', () => {
    const index = createOrderIndex()
    index.add('old-a', order(0, T - 5 * DAY, 1000, 900)) // customer 0 first ordered before the range
    index.add('a', order(0, T + 60_000, 2000, 1800))
    index.add('b1', order(1, T + 120_000, 3000, 2700)) // customer 1: first order in the range
    index.add('b2', order(1, T + 3_600_000, 500, 400)) // their second order in the range: still new
    index.add('g', order(-1, T + 1000, 700, 650))
    index.add('later', order(2, T + DAY, 9999, 9999)) // after the range: not in it
    expect(customerGroupsOf(index, [RANGE], 'transaction_date')).toEqual([
      sums({
        new: { customers: 1, orders: 2, gmv: 3500, netSales: 3100 },
        returning: { customers: 1, orders: 1, gmv: 2000, netSales: 1800 },
        guest: { orders: 1, gmv: 700, netSales: 650 },
      }),
    ])
    expect(customerGroupFigures(customerGroupsOf(index, [RANGE], 'transaction_date')[0], 2)).toEqual({
      new_customers: 1,
      returning_customers: 1,
      new_orders: 2,
      new_gmv: '35.00',
      new_net_sales: '31.00',
      returning_orders: 1,
      returning_gmv: '20.00',
      returning_net_sales: '18.00',
      guest_orders: 1,
      guest_gmv: '7.00',
      guest_net_sales: '6.50',
    })
  })

  it('keeps a cancelled first order as the first', () => {
    const index = createOrderIndex()
    const first = index.add('first', order(0, T - DAY, 1000, 1000))
    index.attach(first, [cancel(T - DAY + 60_000)])
    index.add('second', order(0, T + 60_000, 2000, 2000))
    expect(customerGroupsOf(index, [RANGE], 'transaction_date')[0]).toEqual(
      sums({ returning: { customers: 1, orders: 1, gmv: 2000, netSales: 2000 } }),
    )
  })

  it('follows an edit that moves an order to another customer, or out of a guest checkout', () => {
    const index = createOrderIndex()
    const early = index.add('early', order(0, T - DAY, 1000, 1000)) // customer 0's only order before the range
    index.add('x', order(0, T + 60_000, 2000, 2000))
    index.add('y', order(1, T + 60_000, 3000, 3000))
    const before = customerGroupsOf(index, [RANGE], 'transaction_date')[0]
    expect(before.returning.orders).toBe(1)
    expect(before.new.orders).toBe(1)
    // The early order was customer 1's: customer 0 is now new, customer 1 returning.
    index.set(early, { ...index.get(early), customer: 1 })
    expect(customerGroupsOf(index, [RANGE], 'transaction_date')[0]).toEqual(
      sums({
        new: { customers: 1, orders: 1, gmv: 2000, netSales: 2000 },
        returning: { customers: 1, orders: 1, gmv: 3000, netSales: 3000 },
      }),
    )
    // A guest order edited to name customer 2: no longer a guest's.
    const guest = index.add('g', order(-1, T + 120_000, 400, 400))
    expect(customerGroupsOf(index, [RANGE], 'transaction_date')[0].guest.orders).toBe(1)
    index.set(guest, { ...index.get(guest), customer: 2 })
    const after = customerGroupsOf(index, [RANGE], 'transaction_date')[0]
    expect(after.guest).toEqual(zeroGroupSums().guest)
    expect(after.new).toEqual({ customers: 2, orders: 2, gmv: 2400, netSales: 2400 })
  })

  it('subtracts refunds from the net sales of their order’s group, placed by the view', () => {
    const index = createOrderIndex()
    const old = index.add('old', order(0, T - 3 * DAY, 5000, 4000)) // before the range
    index.attach(old, [refund(T + 60_000, 1200, 1000)]) // refunded in the range
    const fresh = index.add('fresh', order(1, T + 60_000, 3000, 2500))
    index.attach(fresh, [refund(T + DAY + 60_000, 600, 500)]) // refunded after the range
    const g = index.add('g', order(-1, T + 60_000, 800, 800))
    index.attach(g, [refund(T + 120_000, 300)])
    expect(customerGroupsOf(index, [RANGE], 'transaction_date')[0]).toEqual(
      sums({
        new: { customers: 1, orders: 1, gmv: 3000, netSales: 2500 },
        returning: { netSales: -1000 },
        guest: { orders: 1, gmv: 800, netSales: 500 },
      }),
    )
    expect(customerGroupsOf(index, [RANGE], 'order_date')[0]).toEqual(
      sums({
        new: { customers: 1, orders: 1, gmv: 3000, netSales: 2000 },
        guest: { orders: 1, gmv: 800, netSales: 500 },
      }),
    )
  })

  it('decides new against each day of a series: a customer is new on their first day only', () => {
    const index = createOrderIndex()
    index.add('d1', order(0, T + 60_000, 100, 100))
    index.add('d2', order(0, T + DAY + 60_000, 200, 200))
    index.add('d2b', order(1, T + DAY + 30, 300, 300)) // second 30 of the day's first minute
    const days = [RANGE, { from: T + DAY, to: T + 2 * DAY }]
    expect(customerGroupsOf(index, days, 'transaction_date')).toEqual([
      sums({ new: { customers: 1, orders: 1, gmv: 100, netSales: 100 } }),
      sums({
        new: { customers: 1, orders: 1, gmv: 300, netSales: 300 },
        returning: { customers: 1, orders: 1, gmv: 200, netSales: 200 },
      }),
    ])
    // To the minute: a range from inside a minute counts that whole minute, as the rollups do.
    expect(customerGroupsOf(index, [{ from: T + DAY + 59_000, to: T + DAY + 60_000 }], 'transaction_date')[0]).toEqual(
      sums({ new: { customers: 1, orders: 1, gmv: 300, netSales: 300 } }),
    )
  })

  it('equals a plain computation over a random history with edits, cancellations and refunds', () => {
    let seed = 7
    const rand = (n: number) => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31
      return seed % n
    }
    const index = createOrderIndex()
    const plain: { customer: number; ts: number; gmv: number; subtotal: number; refunds: [number, number][] }[] = []
    for (let i = 0; i < 3000; i++) {
      const o = { customer: rand(40) - 5, ts: T - 20 * DAY + rand(40 * DAY), gmv: rand(100_000), subtotal: 0 }
      o.subtotal = rand(o.gmv + 1)
      const slot = index.add(`o${i}`, order(Math.max(o.customer, -1), o.ts, o.gmv, o.subtotal))
      plain.push({ ...o, customer: Math.max(o.customer, -1), refunds: [] })
      if (rand(4) === 0) index.attach(slot, [cancel(o.ts + rand(DAY))])
      if (rand(3) === 0) {
        const r: [number, number] = [Math.floor((o.ts + rand(30 * DAY)) / 60_000) * 60_000, rand(o.subtotal + 1)]
        index.attach(slot, [refund(r[0], r[1] + 5, r[1])])
        plain[slot].refunds.push(r)
      }
    }
    for (let k = 0; k < 500; k++) {
      const slot = rand(plain.length)
      const customer = rand(45) - 5 < 0 ? -1 : rand(40)
      const ts = T - 20 * DAY + rand(40 * DAY)
      index.set(slot, { ...index.get(slot), customer, windowTs: ts, figuresTs: ts })
      plain[slot] = { ...plain[slot], customer, ts }
    }
    const minute = (ts: number) => Math.floor(ts / 60_000) * 60_000
    // Days of a range starting and ending inside a minute (as a daily series cuts them).
    const ranges = Array.from({ length: 10 }, (_, d) => ({
      from: d === 0 ? T + 1234 : T + d * DAY,
      to: d === 9 ? T + 10 * DAY - 1234 : T + (d + 1) * DAY,
    }))
    for (const view of ['transaction_date', 'order_date'] as const) {
      const got = customerGroupsOf(index, ranges, view)
      ranges.forEach((r, d) => {
        const inRange = (ts: number) => minute(ts) >= minute(r.from) && minute(ts) < r.to
        const first = (c: number) => Math.min(...plain.filter((o) => o.customer === c).map((o) => o.ts))
        const groupOf = (c: number) => (c < 0 ? 'guest' : minute(first(c)) >= minute(r.from) ? 'new' : 'returning')
        const want = zeroGroupSums()
        const seen = new Set<number>()
        for (const o of plain) {
          if (inRange(o.ts)) {
            const g = want[groupOf(o.customer)]
            g.orders++
            g.gmv += o.gmv
            g.netSales += o.subtotal
            if (o.customer >= 0 && !seen.has(o.customer)) {
              seen.add(o.customer)
              g.customers++
            }
          }
          for (const [at, subtotal] of o.refunds)
            if (inRange(view === 'order_date' ? o.ts : at)) want[groupOf(o.customer)].netSales -= subtotal
        }
        expect(got[d], `${view} day ${d}`).toEqual(want)
      })
      // The same from an index loaded from a snapshot (refunds' orders found again from the chains).
      const loaded = createOrderIndex()
      for (const chunk of index.exportChunks()) loaded.importChunk(chunk)
      expect(customerGroupsOf(loaded, ranges, view), `${view} after a snapshot load`).toEqual(got)
      // Many orders: per-customer columns instead of maps, the same figures (one range and days).
      expect(customerGroupsOf(index, ranges, view, 0), `${view} with columns`).toEqual(got)
      const whole = [{ from: ranges[0].from, to: ranges[9].to }]
      expect(customerGroupsOf(index, whole, view, 0)).toEqual(customerGroupsOf(index, whole, view))
    }
  })
})
