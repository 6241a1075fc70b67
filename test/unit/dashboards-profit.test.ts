import { describe, expect, it } from 'vitest'
import { profitOf } from '../../query/dashboards/profit.ts'
import { measuresOf } from '../../stream/measures.ts'

const r = (bin: string, channel: string, campaign_id: string, values: Parameters<typeof measuresOf>[0]) => ({
  bin,
  channel,
  campaign_id,
  values: measuresOf(values),
})
const days = [
  { key: '2026-03-01', t: '2026-03-01T00:00:00+05:30' },
  { key: '2026-03-02', t: '2026-03-02T00:00:00+05:30' },
  { key: '2026-03-03', t: '2026-03-03T00:00:00+05:30' },
]
const rows = [
  r('2026-03-01', 'facebook', 'fb1', {
    gmv: 11_000,
    orders: 1,
    subtotal: 10_000,
    shipping_cost: 500,
    attributed_revenue: 11_000,
  }),
  r('2026-03-01', 'facebook', 'fb1', { item_revenue: 10_000, cogs: 4_000 }),
  r('2026-03-01', 'facebook', 'fb1', { ad_spend: 2_000 }),
  r('2026-03-01', 'organic', '', { gmv: 6_000, orders: 1, subtotal: 5_000, shipping_cost: 300 }),
  r('2026-03-01', 'organic', '', { item_revenue: 5_000, cogs: 2_000 }),
  // A refund of the facebook order on the 2nd; in view=order_date it sits on the 1st.
  r('2026-03-02', 'facebook', 'fb1', { refunds: 3_000, refund_subtotal: 2_500, refund_count: 1 }),
  r('2026-03-01', 'facebook', 'fb1', { refunds_od: 3_000, refund_subtotal_od: 2_500, refund_count_od: 1 }),
  r('2026-03-02', 'klaviyo', '', { marketing_cost: 700 }),
  r('2026-03-02', 'postscript', 'sms-1', { marketing_cost: 100 }),
]

describe('profit dashboard', () => {
  it('totals, every day of the range, channels and campaigns (transaction date)', () => {
    const p = profitOf({ rows, days, digits: 2, view: 'transaction_date' })
    expect(p).toMatchObject({
      view: 'transaction_date',
      net_sales: '125.00',
      cogs: '60.00',
      shipping_cost: '8.00',
      ad_spend: '20.00',
      marketing_cost: '8.00',
      gross_profit: '65.00',
      contribution_margin: '29.00',
      margin: 2_900 / 12_500,
    })
    expect(p.by_day).toEqual([
      {
        day: '2026-03-01',
        t: '2026-03-01T00:00:00+05:30',
        net_sales: '150.00',
        cogs: '60.00',
        shipping_cost: '8.00',
        ad_spend: '20.00',
        marketing_cost: '0.00',
        gross_profit: '90.00',
        contribution_margin: '62.00',
        margin: 6_200 / 15_000,
        fees: '0.00',
        net_profit: '62.00',
      },
      {
        day: '2026-03-02',
        t: '2026-03-02T00:00:00+05:30',
        net_sales: '-25.00',
        cogs: '0.00',
        shipping_cost: '0.00',
        ad_spend: '0.00',
        marketing_cost: '8.00',
        gross_profit: '-25.00',
        contribution_margin: '-33.00',
        margin: 3_300 / 2_500,
        fees: '0.00',
        net_profit: '-33.00',
      },
      {
        day: '2026-03-03',
        t: '2026-03-03T00:00:00+05:30',
        net_sales: '0.00',
        cogs: '0.00',
        shipping_cost: '0.00',
        ad_spend: '0.00',
        marketing_cost: '0.00',
        gross_profit: '0.00',
        contribution_margin: '0.00',
        margin: null,
        fees: '0.00',
        net_profit: '0.00',
      },
    ])
    expect(p.by_channel.map((c) => [c.channel, c.net_sales, c.contribution_margin])).toEqual([
      ['facebook', '75.00', '10.00'], // 100 − 25 refund; − 40 cogs − 5 shipping − 20 spend
      ['klaviyo', '0.00', '-7.00'],
      ['organic', '50.00', '27.00'],
      ['postscript', '0.00', '-1.00'],
    ])
    // Campaign profit: attributed revenue − its spend − the COGS of its orders; a send's campaign is not listed.
    expect(p.by_campaign).toEqual([
      {
        campaign_id: 'fb1',
        orders: 1,
        attributed_revenue: '110.00',
        ad_spend: '20.00',
        cogs: '40.00',
        profit: '50.00',
      },
    ])
  })

  it('view=order_date moves the refund into its order’s day', () => {
    const p = profitOf({ rows, days, digits: 2, view: 'order_date' })
    expect(p.net_sales).toBe('125.00')
    expect(p.by_day.map((d) => d.net_sales)).toEqual(['125.00', '0.00', '0.00'])
  })
})
