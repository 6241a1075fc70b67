// Daily metrics per source, period comparison and KPIs by source with share.
import { describe, expect, it } from 'vitest'
import { changesOf, compareOf, previousRange } from '../../query/dashboards/compare.ts'
import { dailyOf } from '../../query/dashboards/daily.ts'
import { sourcesOf } from '../../query/dashboards/sources.ts'
import { change } from '../../query/dashboards/shared.ts'
import { kpisOf } from '../../stream/kpis.ts'
import { measuresOf } from '../../stream/measures.ts'

const r = (source: string, channel: string, values: Parameters<typeof measuresOf>[0], bin = '') => ({
  bin,
  source,
  channel,
  values: measuresOf(values),
})

describe('period comparison', () => {
  it('the previous range has the same length and ends where the current one starts', () => {
    expect(previousRange(1_000, 1_600)).toEqual({ from: 400, to: 1_000 })
  })

  it.each([
    [150, 100, 0.5],
    [50, 100, -0.5],
    [0, 100, -1],
    [5, 0, null],
    [null, 2, null],
    [2, null, null],
  ])('change(%s, %s) = %s', (current, previous, expected) => expect(change(current, previous)).toBe(expected))

  it('changes every KPI from exact minor units, ratios from their values', () => {
    const current = kpisOf(
      measuresOf({ gmv: 15_000, orders: 3, subtotal: 12_000, attributed_revenue: 15_000, ad_spend: 5_000 }),
      2,
      'transaction_date',
    )
    const previous = kpisOf(
      measuresOf({ gmv: 10_000, orders: 2, subtotal: 8_000, attributed_revenue: 5_000, ad_spend: 5_000 }),
      2,
      'transaction_date',
    )
    const c = changesOf(current, previous)
    expect(c).toMatchObject({
      gmv: 0.5,
      orders: 0.5,
      net_sales: 0.5,
      aov: 0,
      roas: 2,
      ad_spend: 0,
      refunds: null,
      refund_rate: null,
    })
  })

  it('compares per source too, a source missing on one side counting as zero', () => {
    const ranges = { current: { from: 'b', to: 'c' }, previous: { from: 'a', to: 'b' } }
    const out = compareOf({
      current: [r('shopify', 'organic', { gmv: 2_000, orders: 1 }), r('amazon', 'organic', { gmv: 1_000, orders: 1 })],
      previous: [r('shopify', 'organic', { gmv: 1_000, orders: 1 })],
      digits: 2,
      view: 'transaction_date',
      ranges,
    })
    expect(out.compare).toEqual({ mode: 'previous_period', from: 'a', to: 'b' })
    expect(
      compareOf({ current: [], previous: [], digits: 2, view: 'order_date', ranges, mode: 'custom' }).compare,
    ).toEqual({
      mode: 'custom',
      from: 'a',
      to: 'b',
    })
    expect(out.current).toMatchObject({ from: 'b', to: 'c', gmv: '30.00' })
    expect(out.previous).toMatchObject({ from: 'a', to: 'b', gmv: '10.00' })
    expect(out.change.gmv).toBe(2)
    expect(Object.keys(out.by_source)).toEqual(['amazon', 'shopify'])
    expect(out.by_source.amazon.previous.gmv).toBe('0.00')
    expect(out.by_source.amazon.change.gmv).toBeNull()
    expect(out.by_source.shopify.change.gmv).toBe(1)
  })
})

describe('daily metrics per source', () => {
  it('one entry per day, each with its total and its sources (with their share of the day’s GMV)', () => {
    const rows = [
      r('shopify', 'facebook', { gmv: 3_000, orders: 1, attributed_revenue: 3_000 }, '2026-01-01'),
      r('amazon', 'organic', { gmv: 1_000, orders: 1 }, '2026-01-01'),
      r('meta_ads', 'facebook', { ad_spend: 1_000 }, '2026-01-02'),
    ]
    const days = [
      { key: '2026-01-01', t: 't1' },
      { key: '2026-01-02', t: 't2' },
      { key: '2026-01-03', t: 't3' },
    ]
    const d = dailyOf({ rows, days, digits: 2, view: 'transaction_date' })
    expect(d.days.map((x) => [x.day, x.t, x.total.gmv, Object.keys(x.by_source)])).toEqual([
      ['2026-01-01', 't1', '40.00', ['amazon', 'shopify']],
      ['2026-01-02', 't2', '0.00', ['meta_ads']],
      ['2026-01-03', 't3', '0.00', []],
    ])
    expect(d.days[0].by_source.shopify).toMatchObject({ gmv: '30.00', gmv_share: 0.75, roas: null })
    expect(d.days[1].total.roas).toBe(0)
  })
})

describe('KPIs by source with share', () => {
  it('each source’s share of every additive figure; null where the total is 0', () => {
    const rows = [
      r('shopify', 'facebook', { gmv: 3_000, orders: 1, units: 3, subtotal: 2_500, attributed_revenue: 3_000 }),
      r('amazon', 'organic', { gmv: 1_000, orders: 1, units: 1, subtotal: 500 }),
      r('meta_ads', 'facebook', { ad_spend: 1_000 }),
    ]
    const s = sourcesOf(rows, 2, 'transaction_date')
    expect(s.total.gmv).toBe('40.00')
    expect(s.sources.map((x) => x.source)).toEqual(['amazon', 'meta_ads', 'shopify'])
    expect(s.sources[2].share).toMatchObject({
      gmv: 0.75,
      orders: 0.5,
      units: 0.75,
      net_sales: 2_500 / 3_000,
      ad_spend: 0,
      attributed_revenue: 1,
      refunds: null,
      marketing_cost: null,
    })
    expect(s.sources[1].share.ad_spend).toBe(1)
    expect(s.sources[2].gmv_share).toBe(0.75)
  })
})
