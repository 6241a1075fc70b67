import { describe, it, expect } from 'vitest'
import { type Kpis, type MeasureRow, kpiReport, kpisOf, sumRows } from '../../stream/kpis.ts'
import { get, measuresOf, zeroMeasures } from '../../stream/measures.ts'

const rows: MeasureRow[] = [
  {
    source: 'shopify',
    channel: 'facebook',
    values: measuresOf({
      gmv: 100000,
      orders: 2,
      units: 5,
      subtotal: 90001,
      attributed_revenue: 100000,
      refunds: 10000,
      refund_subtotal: 8000,
      refund_count: 1,
      cancelled_orders: 1,
      refunds_od: 2500,
      refund_subtotal_od: 2000,
      refund_count_od: 1,
    }),
  },
  { source: 'meta_ads', channel: 'facebook', values: measuresOf({ ad_spend: 40000 }) },
  {
    source: 'amazon',
    channel: 'organic',
    values: measuresOf({ gmv: 50000, orders: 1, units: 1, subtotal: 45000, cancelled_orders_od: 1 }),
  },
  { source: 'klaviyo', channel: 'klaviyo', values: measuresOf({ marketing_cost: 10000 }) },
]

const emptyKpis: Kpis = {
  gmv: '0.00',
  orders: 0,
  units: 0,
  refunds: '0.00',
  refund_rate: null,
  cancelled_orders: 0,
  net_sales: '0.00',
  aov: null,
  ad_spend: '0.00',
  attributed_revenue: '0.00',
  roas: null,
  marketing_cost: '0.00',
  mer: null,
  cogs: '0.00',
  gross_profit: '0.00',
  shipping_cost: '0.00',
  contribution_margin: '0.00',
  fees: '0.00',
  net_profit: '0.00', // no fees: contribution margin
  margin: null,
  poas: null,
}

describe('kpiReport: totals', () => {
  it('computes the transaction-date view exactly', () => {
    const { by_channel: _c, by_source: _s, ...total } = kpiReport(rows, 2, 'transaction_date')
    expect(total).toEqual({
      gmv: '1500.00',
      orders: 3,
      units: 6,
      refunds: '100.00',
      refund_rate: 10000 / 150000,
      cancelled_orders: 1,
      net_sales: '1270.01', // 135001 − 8000
      aov: '423.34', // 127001 / 3 = 42333.67 → 42334
      ad_spend: '400.00',
      attributed_revenue: '1000.00',
      roas: 2.5,
      marketing_cost: '100.00',
      mer: 3, // 150000 / (40000 + 10000)
      cogs: '0.00',
      gross_profit: '1270.01',
      shipping_cost: '0.00',
      contribution_margin: '770.01', // 127001 − 40000 − 10000
      fees: '0.00',
      net_profit: '770.01', // no fees: contribution margin
      margin: 77001 / 127001,
      poas: 82001 / 40000, // attributed (non-organic) rows: 90001 − 8000 − 0 cogs
    } satisfies Kpis)
  })

  it('view=order_date uses the *_od refund and cancellation figures', () => {
    const { by_channel: _c, by_source: _s, ...total } = kpiReport(rows, 2, 'order_date')
    expect(total).toEqual({
      gmv: '1500.00',
      orders: 3,
      units: 6,
      refunds: '25.00',
      refund_rate: 2500 / 150000,
      cancelled_orders: 1,
      net_sales: '1330.01', // 135001 − 2000
      aov: '443.34', // 133001 / 3 = 44333.67 → 44334
      ad_spend: '400.00',
      attributed_revenue: '1000.00',
      roas: 2.5,
      marketing_cost: '100.00',
      mer: 3,
      cogs: '0.00',
      gross_profit: '1330.01',
      shipping_cost: '0.00',
      contribution_margin: '830.01', // 133001 − 40000 − 10000
      fees: '0.00',
      net_profit: '830.01', // no fees: contribution margin
      margin: 83001 / 133001,
      poas: 88001 / 40000, // 90001 − 2000
    } satisfies Kpis)
  })

  it('answers zeros and null ratios for no rows', () => {
    expect(kpiReport([], 2, 'transaction_date')).toEqual({ ...emptyKpis, by_channel: {}, by_source: {} })
  })

  it('formats in the currency digits (JPY 0, BHD 3)', () => {
    const values = measuresOf({ gmv: 1234567, orders: 2, subtotal: 1000001 })
    expect(kpisOf(values, 0, 'transaction_date')).toMatchObject({
      gmv: '1234567',
      net_sales: '1000001',
      aov: '500001',
      refunds: '0',
    })
    expect(kpisOf(values, 3, 'transaction_date')).toMatchObject({
      gmv: '1234.567',
      net_sales: '1000.001',
      aov: '500.001',
      refunds: '0.000',
    })
  })
})

describe('kpisOf', () => {
  it.each<[string, Parameters<typeof measuresOf>[0], Partial<Kpis>]>([
    [
      'aov rounds half away from zero (41000.5 → 41001)',
      { subtotal: 82001, orders: 2 },
      { net_sales: '820.01', aov: '410.01' },
    ],
    ['aov rounds down below the half (33333.33 → 33333)', { subtotal: 100000, orders: 3 }, { aov: '333.33' }],
    ['aov is null without orders', { subtotal: 0, orders: 0 }, { aov: null }],
    [
      'net_sales goes negative when refunds exceed sales',
      { subtotal: 1000, orders: 1, refund_subtotal: 2234 },
      { net_sales: '-12.34', aov: '-12.34' },
    ],
    [
      'a negative aov rounds half away from zero',
      { subtotal: 0, orders: 2, refund_subtotal: 1 },
      { net_sales: '-0.01', aov: '-0.01' },
    ],
    ['roas is null when ad_spend is 0', { gmv: 5000, attributed_revenue: 5000 }, { roas: null, mer: null }],
    ['roas is 0 with spend and no attributed revenue', { ad_spend: 100 }, { roas: 0, mer: 0 }],
    ['roas divides attributed revenue by spend', { attributed_revenue: 30000, ad_spend: 12000 }, { roas: 2.5 }],
    ['refund_rate is null when gmv is 0', { refunds: 100 }, { refund_rate: null, refunds: '1.00' }],
    ['refund_rate divides refunds by gmv', { gmv: 40000, refunds: 10000 }, { refund_rate: 0.25 }],
    ['mer counts marketing cost alone', { gmv: 30000, marketing_cost: 10000 }, { mer: 3, marketing_cost: '100.00' }],
  ])('%s', (_label, values, expected) => {
    expect(kpisOf(measuresOf(values), 2, 'transaction_date')).toMatchObject(expected)
  })

  it.each<[Parameters<typeof measuresOf>[0], Partial<Kpis>, Partial<Kpis>]>([
    [
      { gmv: 10000, orders: 1, subtotal: 10000, refunds: 1000, refund_subtotal: 900, cancelled_orders: 2 },
      { refunds: '10.00', refund_rate: 0.1, net_sales: '91.00', cancelled_orders: 2 },
      { refunds: '0.00', refund_rate: 0, net_sales: '100.00', cancelled_orders: 0 },
    ],
    [
      { gmv: 10000, orders: 1, subtotal: 10000, refunds_od: 5000, refund_subtotal_od: 4000, cancelled_orders_od: 1 },
      { refunds: '0.00', net_sales: '100.00', cancelled_orders: 0 },
      { refunds: '50.00', refund_rate: 0.5, net_sales: '60.00', aov: '60.00', cancelled_orders: 1 },
    ],
  ])('picks the view: %j', (values, transactionDate, orderDate) => {
    const m = measuresOf(values)
    expect(kpisOf(m, 2, 'transaction_date')).toMatchObject(transactionDate)
    expect(kpisOf(m, 2, 'order_date')).toMatchObject(orderDate)
  })
})

describe('kpiReport: breakdowns', () => {
  const report = kpiReport(rows, 2, 'transaction_date')

  it('lists channels and sources in ascending order', () => {
    expect(Object.keys(report.by_channel)).toEqual(['facebook', 'klaviyo', 'organic'])
    expect(Object.keys(report.by_source)).toEqual(['amazon', 'klaviyo', 'meta_ads', 'shopify'])
  })

  it('pairs spend with orders of the same channel for per-channel roas', () => {
    expect(report.by_channel.facebook).toEqual({
      gmv: '1000.00',
      orders: 2,
      units: 5,
      refunds: '100.00',
      refund_rate: 0.1,
      cancelled_orders: 1,
      net_sales: '820.01',
      aov: '410.01',
      ad_spend: '400.00',
      attributed_revenue: '1000.00',
      roas: 2.5,
      marketing_cost: '0.00',
      mer: 2.5,
      cogs: '0.00',
      gross_profit: '820.01',
      shipping_cost: '0.00',
      contribution_margin: '420.01', // 82001 − 40000
      fees: '0.00',
      net_profit: '420.01', // no fees: contribution margin
      margin: 42001 / 82001,
      poas: 82001 / 40000,
    } satisfies Kpis)
    expect(report.by_channel.organic).toEqual({
      ...emptyKpis,
      gmv: '500.00',
      orders: 1,
      units: 1,
      refund_rate: 0,
      net_sales: '450.00',
      aov: '450.00',
      gross_profit: '450.00',
      contribution_margin: '450.00',
      fees: '0.00',
      net_profit: '450.00', // no fees: contribution margin
      margin: 1,
    } satisfies Kpis)
    expect(report.by_channel.klaviyo).toEqual({
      ...emptyKpis,
      marketing_cost: '100.00',
      mer: 0,
      contribution_margin: '-100.00',
      fees: '0.00',
      net_profit: '-100.00', // no fees: contribution margin
    } satisfies Kpis)
  })

  it('gives each source its gmv_share of the total', () => {
    expect(report.by_source.shopify).toMatchObject({ gmv: '1000.00', gmv_share: 100000 / 150000, roas: null })
    expect(report.by_source.amazon).toMatchObject({ gmv: '500.00', gmv_share: 50000 / 150000, aov: '450.00' })
    expect(report.by_source.meta_ads).toEqual({
      ...emptyKpis,
      ad_spend: '400.00',
      roas: 0,
      mer: 0,
      gmv_share: 0,
      contribution_margin: '-400.00',
      fees: '0.00',
      net_profit: '-400.00', // no fees: contribution margin
      poas: 0,
    })
    expect(report.by_source.klaviyo).toMatchObject({ marketing_cost: '100.00', gmv_share: 0 })
  })

  it('gmv_share is null when the total gmv is 0', () => {
    const r = kpiReport(
      [{ source: 'meta_ads', channel: 'facebook', values: measuresOf({ ad_spend: 100 }) }],
      2,
      'transaction_date',
    )
    expect(r.by_source.meta_ads.gmv_share).toBeNull()
  })

  it('order_date view applies to the breakdowns too', () => {
    const r = kpiReport(rows, 2, 'order_date')
    expect(r.by_channel.facebook).toMatchObject({
      refunds: '25.00',
      net_sales: '880.01',
      aov: '440.01',
      cancelled_orders: 0,
    })
    expect(r.by_channel.organic).toMatchObject({ cancelled_orders: 1 })
  })
})

describe('sumRows', () => {
  it('sums all rows under one key without a key function', () => {
    const sums = sumRows(rows)
    expect([...sums.keys()]).toEqual([''])
    expect(get(sums.get('')!, 'gmv')).toBe(150000)
    expect(get(sums.get('')!, 'ad_spend')).toBe(40000)
  })

  it('groups by the key and does not mutate the rows', () => {
    const before = rows.map((r) => [...r.values])
    const sums = sumRows(rows, (r) => r.channel ?? '')
    expect(get(sums.get('facebook')!, 'gmv')).toBe(100000)
    expect(get(sums.get('facebook')!, 'ad_spend')).toBe(40000)
    expect(get(sums.get('organic')!, 'gmv')).toBe(50000)
    expect(rows.map((r) => r.values)).toEqual(before)
  })

  it('answers an empty map for no rows', () => {
    expect(sumRows([]).size).toBe(0)
    expect(zeroMeasures().every((v) => v === 0)).toBe(true)
  })
})
