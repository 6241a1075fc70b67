// Cohorts, LTV, CAC and payback (query/cohorts.ts) over a stand-in for the order index: tenant-local
// months and Monday weeks, first orders decided from every order, refunds by as_of, cumulative
// sums, LTV rounding, horizons, spend per channel, payback, and a random history against a plain
// computation.
import { DateTime } from 'luxon'
import { describe, expect, it } from 'vitest'
import { runSync } from '../../query/steps.ts'
import {
  type CohortOrders,
  type CohortPeriod,
  LTV_HORIZON_DAYS,
  acquisitionOf,
  cohortCalendar,
  cohortFactsSteps,
  cohortMatrix,
} from '../../query/cohorts.ts'

const DAY = 86_400_000
const at = (text: string) => Date.parse(`${text}Z`)

interface Order {
  customer: number
  ts: number
  subtotal: number
  cogs?: number
  channel?: string
  refunds?: { minute: number; subtotal: number }[]
}

/** The slice of the order index cohorts read; −1 customers are guests (in no chain). */
function index(orders: Order[]): CohortOrders {
  return {
    customerBound: () => Math.max(0, ...orders.map((o) => o.customer + 1)),
    *ordersOf(c: number) {
      // Newest first, as the index's chains are.
      for (let slot = orders.length - 1; slot >= 0; slot--) if (orders[slot].customer === c) yield slot
    },
    windowTs: (slot) => orders[slot].ts,
    placeOf: (slot) => ({
      source: 'shop',
      channel: orders[slot].channel ?? 'organic',
      campaign_id: '',
      city: '',
      store: '',
    }),
    money: (slot) => [0, orders[slot].subtotal],
    rfmFigures: (slot) => [0, 0, orders[slot].subtotal - (orders[slot].cogs ?? 0)],
    forEachRefund: (slot, fn) => {
      for (const r of orders[slot].refunds ?? []) fn(r.minute, r.subtotal, r.subtotal)
    },
  }
}

function facts(orders: Order[], by: CohortPeriod, from: number, to: number, asOf: number, timezone = 'UTC') {
  return runSync(cohortFactsSteps(index(orders), cohortCalendar(timezone, by, from, to, asOf), asOf))
}

describe('cohort calendar', () => {
  it('names tenant-local months and Monday weeks, covering every instant up to as_of', () => {
    const months = cohortCalendar(
      'Asia/Kolkata',
      'month',
      at('2026-01-15T00:00:00'),
      at('2026-03-01T00:00:00'),
      at('2026-04-02T00:00:00'),
    )
    // 1 March 00:00 UTC is 05:30 in India: the range touches March, so it is a cohort.
    expect(months.periodKeys).toEqual(['2026-01', '2026-02', '2026-03', '2026-04'])
    expect(months.cohorts).toBe(3)
    expect(months.periodTs[0]).toBe('2026-01-01T00:00:00+05:30')
    expect(months.dayKeys[0]).toBe('2026-01-01')
    expect(months.dayKeys.at(-1)).toBe('2026-04-30')
    const weeks = cohortCalendar(
      'UTC',
      'week',
      at('2026-01-01T00:00:00'),
      at('2026-01-12T00:00:00'),
      at('2026-01-12T00:00:00'),
    )
    // 1 January 2026 is a Thursday: its week starts on Monday 29 December 2025.
    expect(weeks.periodKeys).toEqual(['2025-12-29', '2026-01-05'])
    expect(weeks.cohorts).toBe(2)
    expect(weeks.dayKeys).toHaveLength(14)
  })
})

describe('cohorts', () => {
  const JAN = at('2026-01-01T00:00:00')
  const MAR = at('2026-03-01T00:00:00')
  const AS_OF = at('2026-03-20T00:00:00')

  it('groups customers by the month of their first order, with each month since', () => {
    const orders: Order[] = [
      { customer: 0, ts: at('2026-01-05T10:00:00'), subtotal: 1000, cogs: 400 },
      { customer: 0, ts: at('2026-02-07T10:00:00'), subtotal: 500, cogs: 100 },
      {
        customer: 0,
        ts: at('2026-02-08T10:00:00'),
        subtotal: 300,
        cogs: 100,
        refunds: [{ minute: at('2026-03-01T00:00:00'), subtotal: 50 }],
      },
      // A refund after as_of does not count yet.
      { customer: 1, ts: at('2026-01-31T23:59:00'), subtotal: 1001, refunds: [{ minute: AS_OF, subtotal: 1001 }] },
      // Customer 2 first ordered in February; the order after as_of is left out.
      { customer: 2, ts: at('2026-02-01T00:00:00'), subtotal: 700 },
      { customer: 2, ts: AS_OF, subtotal: 999 },
      // A guest is in no cohort; customer 3 first ordered before the range.
      { customer: -1, ts: at('2026-01-10T00:00:00'), subtotal: 5000 },
      { customer: 3, ts: at('2025-12-31T23:59:00'), subtotal: 100 },
      { customer: 3, ts: at('2026-01-02T00:00:00'), subtotal: 100 },
    ]
    const f = facts(orders, 'month', JAN, MAR, AS_OF)
    expect(f.cells).toEqual([
      { customers: [2, 1, 0], orders: [2, 2, 0], revenue: [2001, 750, 0], grossProfit: [1601, 550, 0] },
      { customers: [1, 0], orders: [1, 0], revenue: [700, 0], grossProfit: [700, 0] },
    ])
    expect(f.all.map((a) => a.customers)).toEqual([2, 1])
    const revenue = cohortMatrix(f, 'revenue', false, 2)
    expect(revenue[0]).toEqual({
      cohort: '2026-01',
      t: '2026-01-01T00:00:00Z',
      size: 2,
      periods: [
        // 2001 ÷ 2 = 1000.5 → 1001 (half away from zero, like AOV); 1601 ÷ 2 = 800.5 → 801.
        { period: 0, t: '2026-01-01T00:00:00Z', value: '20.01', ltv_revenue: '10.01', ltv_gross_profit: '8.01' },
        { period: 1, t: '2026-02-01T00:00:00Z', value: '7.50', ltv_revenue: '13.76', ltv_gross_profit: '10.76' },
        { period: 2, t: '2026-03-01T00:00:00Z', value: '0.00', ltv_revenue: '13.76', ltv_gross_profit: '10.76' },
      ],
    })
    expect(cohortMatrix(f, 'orders', true, 2)[0].periods.map((p) => p.value)).toEqual([2, 4, 4])
    expect(cohortMatrix(f, 'gross_profit', true, 2)[0].periods.map((p) => p.value)).toEqual(['16.01', '21.51', '21.51'])
    expect(cohortMatrix(f, 'customers', false, 2)[1].periods.map((p) => p.value)).toEqual([1, 0])
  })

  it('decides the first order from every order the customer has now (a cancelled or moved one too)', () => {
    // Customer 0's earliest order is in January (cancelled orders are orders); moving it to customer 1
    // (an edit) makes customer 0 a February customer and customer 1 a January one.
    const orders: Order[] = [
      { customer: 0, ts: at('2026-01-10T00:00:00'), subtotal: 100 },
      { customer: 0, ts: at('2026-02-10T00:00:00'), subtotal: 200 },
      { customer: 1, ts: at('2026-02-11T00:00:00'), subtotal: 300 },
    ]
    expect(facts(orders, 'month', JAN, MAR, AS_OF).all.map((a) => a.customers)).toEqual([1, 1])
    orders[0].customer = 1
    const moved = facts(orders, 'month', JAN, MAR, AS_OF)
    expect(moved.cells[0].revenue).toEqual([100, 300, 0])
    expect(moved.cells[1].revenue).toEqual([200, 0])
  })

  it('puts an order in the tenant-local week (from Monday) of its window', () => {
    const tz = 'America/New_York'
    const local = (text: string) => DateTime.fromISO(text, { zone: tz }).toMillis()
    const orders: Order[] = [
      { customer: 0, ts: local('2026-03-08T23:30:00'), subtotal: 100 }, // Sunday: the week of 2 March
      { customer: 0, ts: local('2026-03-09T00:30:00'), subtotal: 200 }, // Monday: the next week
    ]
    const f = facts(
      orders,
      'week',
      local('2026-03-02T00:00:00'),
      local('2026-03-16T00:00:00'),
      local('2026-03-16T00:00:00'),
      tz,
    )
    expect(f.calendar.periodKeys).toEqual(['2026-03-02', '2026-03-09'])
    expect(f.cells[0]).toEqual({ customers: [1, 1], orders: [1, 1], revenue: [100, 200], grossProfit: [100, 200] })
  })
})

describe('CAC, LTV and payback', () => {
  const JAN = at('2026-01-01T00:00:00')
  const FEB = at('2026-02-01T00:00:00')
  const orders: Order[] = [
    { customer: 0, ts: at('2026-01-01T10:00:00'), subtotal: 1000, cogs: 500, channel: 'facebook' },
    { customer: 0, ts: at('2026-01-20T10:00:00'), subtotal: 1000, cogs: 500, channel: 'google' },
    { customer: 0, ts: at('2026-03-15T10:00:00'), subtotal: 2000, cogs: 1000, channel: 'google' }, // day 73
    { customer: 1, ts: at('2026-01-31T10:00:00'), subtotal: 600, cogs: 100, channel: 'google' },
    { customer: 2, ts: at('2026-01-15T10:00:00'), subtotal: 300, channel: 'organic' },
  ]
  const spend = [
    { day: '2026-01-03', channel: 'facebook', adSpend: 1500, marketingCost: 0 },
    { day: '2026-01-04', channel: 'google', adSpend: 700, marketingCost: 0 },
    { day: '2026-01-04', channel: 'klaviyo', adSpend: 0, marketingCost: 301 },
    { day: '2026-02-01', channel: 'google', adSpend: 999, marketingCost: 0 }, // another period
  ]

  it('divides the period’s spend by its new customers, blended and by first-order channel', () => {
    // The period ends on 1 February; 90 days later (2 May) the 90-day LTV is complete, not the 180-day.
    const asOf = at('2026-05-02T00:00:00')
    const [jan] = acquisitionOf(facts(orders, 'month', JAN, FEB, asOf), spend, 2)
    expect(jan.new_customers).toBe(3)
    expect([jan.ad_spend, jan.marketing_cost]).toEqual(['22.00', '3.01'])
    expect(jan.cac).toBe('8.34') // 2501 ÷ 3 = 833.67
    expect(jan.ltv.map((l) => l.days)).toEqual([...LTV_HORIZON_DAYS])
    // Within 30 days: customer 0's first two orders, 1's and 2's: 2900; gross profit 1800.
    expect(jan.ltv[0]).toEqual({
      days: 30,
      revenue: '9.67',
      gross_profit: '6.00',
      revenue_to_cac: 2900 / 2501,
      gross_profit_to_cac: 1800 / 2501,
    })
    expect(jan.ltv[2].revenue).toBe('16.33') // 90 days: + the March order
    expect(jan.ltv[3]).toEqual({
      days: 180,
      revenue: null,
      gross_profit: null,
      revenue_to_cac: null,
      gross_profit_to_cac: null,
    })
    // Gross profit: 500 (1 Jan), 800 (15 Jan), 1300 (20 Jan), 1800 (31 Jan), 2800 (15 Mar) ≥ 2501.
    expect([jan.payback_day, jan.payback_days]).toEqual(['2026-03-15', 73])
    expect(jan.by_channel.map((c) => c.channel)).toEqual(['facebook', 'google', 'klaviyo', 'organic'])
    const [facebook, google, klaviyo, organic] = jan.by_channel
    expect([facebook.new_customers, facebook.cac, facebook.payback_day]).toEqual([1, '15.00', '2026-03-15'])
    expect([google.new_customers, google.cac, google.payback_day]).toEqual([1, '7.00', null]) // 500 < 700
    expect([klaviyo.new_customers, klaviyo.cac, klaviyo.marketing_cost]).toEqual([0, null, '3.01'])
    expect([organic.new_customers, organic.cac, organic.payback_day, organic.ltv[0].revenue_to_cac]).toEqual([
      1,
      '0.00',
      null,
      null,
    ])
  })
})

describe('a random history against a plain computation', () => {
  it('gives every cell of every metric', () => {
    let seed = 7
    const random = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31
    const start = at('2025-10-01T00:00:00')
    const orders: Order[] = Array.from({ length: 400 }, () => ({
      customer: Math.floor(random() * 60) - 5,
      ts: start + Math.floor(random() * 200) * DAY + Math.floor(random() * 1440) * 60_000,
      subtotal: Math.floor(random() * 10_000),
      cogs: Math.floor(random() * 3_000),
      refunds: random() < 0.2 ? [{ minute: start + Math.floor(random() * 260) * DAY, subtotal: 77 }] : [],
    }))
    const from = at('2025-11-01T00:00:00')
    const to = at('2026-02-01T00:00:00')
    const asOf = at('2026-03-10T00:00:00')
    const f = facts(orders, 'week', from, to, asOf)
    const weekOf = (ts: number) => DateTime.fromMillis(ts, { zone: 'UTC' }).startOf('week').toMillis()
    const customers = [...new Set(orders.filter((o) => o.customer >= 0).map((o) => o.customer))]
    const cohortStarts = f.calendar.periodKeys.slice(0, f.calendar.cohorts).map((k) => Date.parse(`${k}T00:00:00Z`))
    cohortStarts.forEach((cohortStart, i) => {
      const members = customers.filter(
        (c) => weekOf(Math.min(...orders.filter((o) => o.customer === c).map((o) => o.ts))) === cohortStart,
      )
      const cells = f.cells[i]
      expect(f.all[i].customers).toBe(
        members.filter((c) => Math.min(...orders.filter((o) => o.customer === c).map((o) => o.ts)) < asOf).length,
      )
      cells.orders.forEach((_, k) => {
        const inCell = orders.filter(
          (o) => members.includes(o.customer) && o.ts < asOf && weekOf(o.ts) === cohortStart + k * 7 * DAY,
        )
        const refunded = (o: Order) =>
          (o.refunds ?? []).filter((r) => r.minute < asOf).reduce((s, r) => s + r.subtotal, 0)
        expect(cells.orders[k]).toBe(inCell.length)
        expect(cells.customers[k]).toBe(new Set(inCell.map((o) => o.customer)).size)
        expect(cells.revenue[k]).toBe(inCell.reduce((s, o) => s + o.subtotal - refunded(o), 0))
        expect(cells.grossProfit[k]).toBe(inCell.reduce((s, o) => s + o.subtotal - (o.cogs ?? 0) - refunded(o), 0))
      })
    })
  })
})
