import { describe, expect, it } from 'vitest'
import {
  countHighIntent,
  highIntentAdSpend,
  monthsTouched,
  overviewOf,
  platformRevenue,
} from '../../query/dashboards/overview.ts'
import { mulDiv, timesRates } from '../../query/dashboards/shared.ts'
import { defaultSettings } from '../../common/settings.ts'
import { measuresOf } from '../../stream/measures.ts'
import { createCustomerStore } from '../../stream/customers.ts'
import { createOrderIndex } from '../../stream/order-index.ts'

const fees = defaultSettings().fees
const row = (bin: string, channel: string, campaign_id: string, values: Parameters<typeof measuresOf>[0]) => ({
  bin,
  channel,
  campaign_id,
  values: measuresOf(values),
})

describe('exact money by rates', () => {
  it.each([
    [5, [0.1], 1], // 0.5 → 1, half away from zero
    [4, [0.1], 0],
    [-5, [0.1], -1],
    [1250, [0.2, 0.4], 100],
    [1_000_001, [0.2, 0.4], 80_000],
    [3, [1e-7], 0],
  ])('%i × %j = %i', (minor, rates, expected) => expect(timesRates(minor, ...rates)).toBe(expected))

  it('multiplies before dividing, exactly, beyond 2^53', () => {
    expect(mulDiv(9_000_000_000, 9_000_000_000, 3)).toBe(27_000_000_000_000_000_000)
    expect(mulDiv(1, 1, 2)).toBe(1)
    expect(mulDiv(-1, 1, 2)).toBe(-1)
  })
})

describe('ad spend on high-intent purchases', () => {
  it('takes each campaign’s share of its own attributed revenue that day, times its spend that day', () => {
    const rows = [
      row('2026-01-01', 'facebook', 'fb1', { attributed_revenue: 30_000, high_intent_revenue: 10_000 }),
      row('2026-01-01', 'facebook', 'fb1', { ad_spend: 1_000 }),
      row('2026-01-01', 'facebook', 'fb2', { attributed_revenue: 5_000, high_intent_revenue: 5_000 }),
      row('2026-01-01', 'facebook', 'fb2', { ad_spend: 700 }),
      // Another day: the day's own split.
      row('2026-01-02', 'facebook', 'fb1', { attributed_revenue: 10_000, high_intent_revenue: 10_000, ad_spend: 400 }),
    ]
    // fb1 day 1: 10000/30000 × 1000 = 333.33 → 333; fb2: 700; fb1 day 2: 400.
    expect(highIntentAdSpend(rows)).toBe(333 + 700 + 400)
  })

  it('orders without a campaign take their share of the whole channel that day, times the channel’s spend', () => {
    const rows = [
      row('2026-01-01', 'google', '', { attributed_revenue: 2_000, high_intent_revenue: 1_000 }),
      row('2026-01-01', 'google', 'g1', { attributed_revenue: 6_000 }),
      row('2026-01-01', 'google', 'g1', { ad_spend: 900 }),
      row('2026-01-01', 'google', 'g2', { ad_spend: 101 }),
    ]
    // channel: 1000 / (2000 + 6000) × (900 + 101) = 125.125 → 125; campaign g1 has no high intent.
    expect(highIntentAdSpend(rows)).toBe(125)
  })

  it('rounds each term half away from zero, and is 0 without attributed revenue', () => {
    const rows = [
      row('d1', 'facebook', 'a', { attributed_revenue: 2, high_intent_revenue: 1, ad_spend: 1 }),
      row('d1', 'facebook', 'b', { attributed_revenue: 2, high_intent_revenue: 1, ad_spend: 1 }),
    ]
    expect(highIntentAdSpend(rows)).toBe(2) // 0.5 + 0.5, each rounded up
    expect(highIntentAdSpend([row('d1', 'facebook', 'a', { ad_spend: 500 })])).toBe(0)
  })
})

describe('calendar months touched', () => {
  it.each([
    ['UTC', '2026-01-01T00:00:00Z', '2026-02-01T00:00:00Z', ['2026-01']],
    ['UTC', '2026-01-31T23:00:00Z', '2026-02-01T00:00:01Z', ['2026-01', '2026-02']],
    ['Asia/Kolkata', '2026-01-31T19:00:00Z', '2026-02-01T00:00:00Z', ['2026-02']], // already 1 Feb in India
    ['America/New_York', '2025-12-15T00:00:00Z', '2026-03-01T05:00:00Z', ['2025-12', '2026-01', '2026-02']],
  ])('%s [%s, %s)', (tz, from, to, months) =>
    expect(monthsTouched(Date.parse(from), Date.parse(to), tz)).toEqual(months),
  )
})

describe('platform revenue', () => {
  it('adds the retainer per month, the commission on ad spend and the premium on high-intent spend', () => {
    const p = platformRevenue({
      fees: { ...fees, monthly_retainer: '999.99' },
      months: ['2026-01', '2026-02'],
      adSpend: 123_45,
      highIntentAdSpend: 50_05,
      digits: 2,
    })
    expect(p).toEqual({
      total: '2016.33', // 1999.98 + 12.35 (12.345 rounded half away) + 4.00 (50.05 × 0.2 × 0.4 = 4.004)
      monthly_retainer: { per_month: '999.99', months: ['2026-01', '2026-02'], amount: '1999.98' },
      ad_commission: { rate: 0.1, ad_spend: '123.45', amount: '12.35' },
      high_intent_premium: { premium_rate: 0.2, spend_share: 0.4, high_intent_ad_spend: '50.05', amount: '4.00' },
    })
  })

  it('uses the currency’s digits', () => {
    const p = platformRevenue({
      fees: { ...fees, monthly_retainer: '50000' },
      months: ['2026-01'],
      adSpend: 12_345,
      highIntentAdSpend: 0,
      digits: 0,
    })
    expect(p.total).toBe('51235') // 50000 + 1234.5 → 1235
  })
})

describe('overview', () => {
  it('sums GMV and attributed revenue with its share', () => {
    const rows = [
      row('d1', 'organic', '', { gmv: 10_000, orders: 1 }),
      row('d1', 'facebook', 'fb1', { gmv: 30_000, orders: 2, attributed_revenue: 30_000, high_intent_revenue: 30_000 }),
      row('d1', 'facebook', 'fb1', { ad_spend: 5_000 }),
    ]
    const o = overviewOf({ rows, fees, months: ['2026-01'], usersTracked: 7, highIntentUsers: 2, digits: 2 })
    expect(o).toMatchObject({
      gmv: '400.00',
      orders: 3,
      attributed_revenue: '300.00',
      attributed_share: 0.75,
      high_intent_revenue: '300.00',
      ad_spend: '50.00',
      users_tracked: 7,
      high_intent_users: 2,
    })
    expect(o.platform_revenue).toMatchObject({
      total: '9.00',
      high_intent_premium: { high_intent_ad_spend: '50.00', amount: '4.00' },
    }) // 5.00 + 4.00
  })

  it('a range without sales has a null share', () => {
    expect(
      overviewOf({ rows: [], fees, months: [], usersTracked: 0, highIntentUsers: 0, digits: 2 }).attributed_share,
    ).toBeNull()
  })
})

describe('high-intent users', () => {
  it('counts the customers whose decayed score reaches the threshold at the given time', () => {
    const t = Date.parse('2026-01-02T00:00:00Z')
    const people = createCustomerStore(createOrderIndex())
    // One shopper event each, of the given weight: its score at its own time.
    const customer = (id: string, score: number, at?: number) => {
      const i = people.intern(id)
      if (at !== undefined) people.shopperEvent(i, at, score, undefined, 24 * 3_600_000)
    }
    customer('a', 20, t)
    customer('b', 20, t - 24 * 3_600_000)
    customer('c', 9.99, t)
    customer('d', 0)
    const intent = defaultSettings().intent
    expect(countHighIntent(people, t, intent)).toBe(2) // a: 20; b: 10 after one half-life
    expect(countHighIntent(people, t + 3_600_000, intent)).toBe(1)
  })
})
