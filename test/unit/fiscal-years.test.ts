// Fiscal years of the RFM dashboard (docs/metrics.md, "RFM": fiscal_year_data): the year of a
// tenant-local date, labels, per-year counts and percentages, the facts' years from the order
// index, and the value-bucket filters.
import { describe, expect, it } from 'vitest'
import { event } from '../../common/events.ts'
import { factsOf } from '../../query/customer-analytics.ts'
import {
  fiscalCalendar,
  fiscalYearEntry,
  fiscalYearLabel,
  fiscalYearOf,
  fiscalYearOfDate,
  fiscalYearStart,
  fiscalYearTally,
  percentOf,
} from '../../query/fiscal-years.ts'
import { VALUE_BUCKET_LABELS, rankRfm, rfmDashboard, rfmFacts } from '../../query/rfm.ts'
import { createProcessor } from '../../stream/processor.ts'
import type { TenantRef } from '../../tenants/index.ts'

const DAY = 86_400_000
const at = (iso: string) => Date.parse(iso)

describe('the fiscal year of a tenant-local date', () => {
  it('starts in the start month: 1, 4 and 12', () => {
    expect([1, 6, 12].map((m) => fiscalYearOfDate(2026, m, 1))).toEqual([2026, 2026, 2026])
    expect([1, 3, 4, 12].map((m) => fiscalYearOfDate(2026, m, 4))).toEqual([2025, 2025, 2026, 2026])
    expect([1, 11, 12].map((m) => fiscalYearOfDate(2026, m, 12))).toEqual([2025, 2025, 2026])
  })

  it('reads instants in the tenant’s zone: the boundary is local midnight, not UTC', () => {
    const ist = 'Asia/Kolkata' // UTC+05:30
    // 1 April 2025 00:00 in India is 31 March 18:30 UTC.
    expect(fiscalYearOf(at('2025-03-31T18:29:59.999Z'), ist, 4)).toBe(2024)
    expect(fiscalYearOf(at('2025-03-31T18:30:00.000Z'), ist, 4)).toBe(2025)
    expect(fiscalYearOf(at('2025-03-31T20:00:00.000Z'), 'UTC', 4)).toBe(2024)
    expect(fiscalYearOf(at('2025-12-31T18:30:00.000Z'), ist, 1)).toBe(2026)
    expect(fiscalYearOf(at('2025-12-31T18:29:59.999Z'), ist, 1)).toBe(2025)
    expect(fiscalYearOf(at('2025-11-30T18:30:00.000Z'), ist, 12)).toBe(2025)
    expect(fiscalYearOf(at('2025-11-30T18:29:59.999Z'), ist, 12)).toBe(2024)
    // New York: 1 April is in daylight time (UTC−4), 1 December and 1 January in standard time (UTC−5).
    const ny = 'America/New_York'
    expect(fiscalYearStart(2025, ny, 4)).toBe(at('2025-04-01T04:00:00Z'))
    expect(fiscalYearOf(at('2025-04-01T03:59:59.999Z'), ny, 4)).toBe(2024)
    expect(fiscalYearOf(at('2025-04-01T04:00:00.000Z'), ny, 4)).toBe(2025)
    expect(fiscalYearStart(2025, ny, 12)).toBe(at('2025-12-01T05:00:00Z'))
    expect(fiscalYearStart(2026, ny, 1)).toBe(at('2026-01-01T05:00:00Z'))
    expect(fiscalYearOf(at('2026-01-01T04:59:59.999Z'), ny, 1)).toBe(2025)
  })

  it('the calendar’s table gives the same years as a date per instant, at and around every boundary', () => {
    for (const zone of ['UTC', 'Asia/Kolkata', 'America/New_York', 'Pacific/Chatham', 'America/Sao_Paulo']) {
      for (const startMonth of [1, 4, 12]) {
        const calendar = fiscalCalendar(zone, startMonth)
        const probes: number[] = []
        for (let year = 1970; year <= 2099; year++) {
          const start = fiscalYearStart(year, zone, startMonth)
          probes.push(start - 1, start, start + 1, start + 200 * DAY)
        }
        probes.push(0, at('2100-01-01T00:00:00Z'))
        // Out of order, so the last-year hint is wrong most of the time.
        for (const ts of probes.sort((a, b) => ((a * 7919) % 1013) - ((b * 7919) % 1013)))
          if (ts >= 0)
            expect(calendar.yearOf(ts), `${zone} ${startMonth} ${ts}`).toBe(fiscalYearOf(ts, zone, startMonth))
      }
    }
  })

  it('labels: FY2025-26 from April (or December) 2025, FY2026 for a year starting in January', () => {
    expect(fiscalYearLabel(2025, 4)).toBe('FY2025-26')
    expect(fiscalYearLabel(2025, 12)).toBe('FY2025-26')
    expect(fiscalYearLabel(2026, 1)).toBe('FY2026')
    expect(fiscalYearLabel(1999, 4)).toBe('FY1999-00')
  })
})

describe('per-year counts', () => {
  it('percentages as retention_rate: 100 × part ÷ the year’s customers, unrounded, null with none', () => {
    expect(percentOf(1, 3)).toBe((100 * 1) / 3)
    expect(percentOf(0, 0)).toBeNull()
    expect(fiscalYearEntry(2025, 4, 1, 2)).toEqual({
      label: 'FY2025-26',
      new_customers: 1,
      old_customers: 2,
      new_pct: 100 / 3,
      old_pct: 200 / 3,
    })
    expect(fiscalYearEntry(2026, 1, 0, 0)).toEqual({
      label: 'FY2026',
      new_customers: 0,
      old_customers: 0,
      new_pct: null,
      old_pct: null,
    })
  })

  it('a customer is new in the year of the first order and old in each later year ordered in', () => {
    const tally = fiscalYearTally(2022, 2026)
    tally.add(2022, 0b1011) // new 2022, old 2023 and 2025
    tally.add(2023, 0b1) // new 2023
    tally.add(2021, 0b10) // first order before the range: old in 2022 only
    tally.add(2024, 0b10) // a range that left out the first year: old in 2025
    tally.add(2026, 1 << 31) // year 2057 is off the axis: not counted
    tally.add(1990, 0, [32, 36]) // offsets past 31: 2022 and 2026
    const entries = tally.entries(4)
    expect(entries.map((e) => [e.label, e.new_customers, e.old_customers])).toEqual([
      ['FY2022-23', 1, 2],
      ['FY2023-24', 1, 1],
      ['FY2024-25', 0, 0],
      ['FY2025-26', 0, 2],
      ['FY2026-27', 0, 1],
    ])
    expect(entries[0].old_pct).toBe(200 / 3)
    expect(fiscalYearTally(0, -1).entries(4)).toEqual([])
  })
})

describe('fiscal years from the order index', () => {
  const tenant: TenantRef = { id: 'fy', timezone: 'Asia/Kolkata', currency: 'INR' }
  function setup() {
    const processor = createProcessor({ dedupHorizonMs: 7 * DAY, latenessMs: 300_000 })
    let n = 0
    const send = (raw: Record<string, unknown>) =>
      processor.apply(tenant, event.parse({ id: `e${++n}`, source: 'shopify', ...raw }), {
        receivedAt: at('2027-01-01T00:00:00Z'),
      })
    const order = (id: string, customer: string | undefined, iso: string) =>
      send({
        type: 'order.created',
        order_id: id,
        ...(customer ? { customer_id: customer } : {}),
        ts: iso,
        total: '10.00',
        subtotal: '10.00',
        items: [{ sku: 's', quantity: 1, price: '10.00' }],
      })
    return { processor, send, order }
  }
  const years = (startMonth: number, asOf: number, from?: number, to?: number) => (s: ReturnType<typeof setup>) => {
    const calendar = fiscalCalendar(tenant.timezone, startMonth)
    const facts = factsOf(s.processor.orders(tenant.id), s.processor.customers(tenant.id), asOf, from, to, calendar)
    return rfmDashboard(rankRfm(facts, asOf), 2).fiscal_year_data.map((e) => [
      e.label,
      e.new_customers,
      e.old_customers,
    ])
  }

  it('years from the earliest order to the one holding the last instant before as_of, in the tenant’s zone', () => {
    const s = setup()
    s.order('a1', 'ann', '2024-05-10T10:00:00+05:30')
    s.order('a2', 'ann', '2024-06-10T10:00:00+05:30') // the same year: once
    s.order('a3', 'ann', '2026-04-01T00:00:00+05:30') // first instant of FY2026-27
    s.order('b1', 'bob', '2025-04-01T00:00:00+05:30') // 31 March 18:30 UTC: FY2025-26 in India
    s.order('c1', 'cat', '2025-03-31T23:59:59+05:30') // FY2024-25
    s.order('c2', 'cat', '2025-04-01T00:00:00+05:30') // FY2025-26
    s.order('g1', undefined, '2023-01-01T00:00:00+05:30') // a guest: not a customer, not in the years
    // A cancelled first order still counts as the first.
    s.order('d1', 'dan', '2025-06-01T12:00:00+05:30')
    s.send({ type: 'order.cancelled', order_id: 'd1', ts: '2025-06-02T12:00:00+05:30' })
    s.order('d2', 'dan', '2026-06-01T12:00:00+05:30')
    const asOf = at('2026-07-01T00:00:00Z')
    expect(years(4, asOf)(s)).toEqual([
      ['FY2024-25', 2, 0], // ann, cat
      ['FY2025-26', 2, 1], // bob, dan; cat
      ['FY2026-27', 0, 2], // ann, dan
    ])
    // January start: 2024 ann (new); 2025 bob, cat, dan new, (cat's two orders once); 2026 ann, dan old.
    expect(years(1, asOf)(s)).toEqual([
      ['FY2024', 1, 0],
      ['FY2025', 3, 0],
      ['FY2026', 0, 2],
    ])
    // as_of at the first instant of FY2026-27 (Indian time): that year holds nothing, so it is not answered.
    expect(years(4, at('2026-04-01T00:00:00+05:30'))(s)).toEqual([
      ['FY2024-25', 2, 0],
      ['FY2025-26', 2, 1],
    ])
    // A range: only orders in it count, but a customer is new only in the year of the first order ever.
    const from = at('2025-04-01T00:00:00+05:30')
    expect(years(4, asOf, from)(s)).toEqual([
      ['FY2025-26', 2, 1],
      ['FY2026-27', 0, 2],
    ])
    expect(years(4, asOf, undefined, from)(s)).toEqual([['FY2024-25', 2, 0]])
  })

  it('follows an edit that moves an order to another customer or year', () => {
    const s = setup()
    s.order('a1', 'ann', '2024-05-10T10:00:00+05:30')
    s.order('a2', 'ann', '2025-05-10T10:00:00+05:30')
    s.send({
      type: 'order.updated',
      order_id: 'a2',
      customer_id: 'bob',
      ts: '2025-05-11T10:00:00+05:30',
      total: '10.00',
      subtotal: '10.00',
      items: [{ sku: 's', quantity: 1, price: '10.00' }],
    })
    expect(years(4, at('2026-01-01T00:00:00Z'))(s)).toEqual([
      ['FY2024-25', 1, 0],
      ['FY2025-26', 1, 0],
    ])
  })

  it('without orders: no years', () => {
    const s = setup()
    expect(years(4, at('2026-01-01T00:00:00Z'))(s)).toEqual([])
  })
})

describe('value-bucket filters', () => {
  const AS_OF = at('2026-10-01T00:00:00Z')
  const rows = Array.from({ length: 60 }, (_, k) => ({
    id: `c${String(k).padStart(2, '0')}`,
    frequency: 1 + (k % 7),
    monetary: ((k * 137) % 70) * 10_000,
    firstOrderAt: AS_OF - ((k * 53) % 1300) * DAY - (k % 7) * DAY,
    lastOrderAt: AS_OF - ((k * 53) % 1300) * DAY,
    grossProfit: k * 100,
    units: k,
  }))
  const ranking = rankRfm(rfmFacts(rows), AS_OF)
  const all = rfmDashboard(ranking, 2)

  it('each label keeps the customers the unfiltered answer counts in that bucket', () => {
    const cases = [
      ['rValueBucket', 'r_value_bucket', all.r_value_bucket_data],
      ['fValueBucket', 'f_value_bucket', all.visits_data],
      ['mValueBucket', 'm_value_bucket', all.value_data],
    ] as const
    for (const [key, name, data] of cases) {
      expect(data.map((b) => b.label)).toEqual(VALUE_BUCKET_LABELS[name])
      for (const bucket of data) {
        const d = rfmDashboard(ranking, 2, { [key]: bucket.label })
        expect(d.kpi.total_customer, `${name}=${bucket.label}`).toBe(bucket.count)
        const own =
          key === 'rValueBucket' ? d.r_value_bucket_data : key === 'fValueBucket' ? d.visits_data : d.value_data
        expect(own.filter((b) => b.count > 0).map((b) => b.label)).toEqual(bucket.count > 0 ? [bucket.label] : [])
      }
    }
    const both = rfmDashboard(ranking, 2, { fValueBucket: '5+', mValueBucket: '5000+' })
    expect(both.kpi.total_customer).toBe(rows.filter((r) => r.frequency >= 5 && r.monetary >= 500_000).length)
    expect(rfmDashboard(ranking, 2, { rValueBucket: 'nope' }).kpi.total_customer).toBe(0)
  })
})
