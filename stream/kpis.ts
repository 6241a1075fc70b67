// The KPIs (docs/metrics.md) from summed measures. Pure: the same function answers HTTP,
// WebSocket snapshots and timeseries bins, so every surface shows the same figures.
import { divideMinor, formatMinor } from '../common/money.ts'
import { type Measures, addMeasures, get, measureIndex, zeroMeasures } from './measures.ts'

export type View = 'transaction_date' | 'order_date'

/** Summed measures of one combination of dimensions over a range (absent dimensions: all). */
export interface MeasureRow {
  source?: string
  channel?: string
  campaign_id?: string
  city?: string
  brand?: string
  category?: string
  store?: string
  values: Measures
}

export interface Kpis {
  gmv: string
  orders: number
  units: number
  refunds: string
  refund_rate: number | null
  cancelled_orders: number
  net_sales: string
  aov: string | null
  ad_spend: string
  attributed_revenue: string
  roas: number | null
  marketing_cost: string
  mer: number | null
  cogs: string
  gross_profit: string
  shipping_cost: string
  contribution_margin: string
  margin: number | null
  poas: number | null
  /** The seller's fees: orders' − refunds' + fee.charged (refunds and fee.charged placed by the view). */
  fees: string
  /** `contribution_margin` − `fees`. */
  net_profit: string
}

const ratio = (a: number, b: number): number | null => (b === 0 ? null : a / b)

const grossProfit = (m: Measures, view: View) =>
  get(m, 'subtotal') - get(m, view === 'order_date' ? 'refund_subtotal_od' : 'refund_subtotal') - get(m, 'cogs')

/** Each count and the per-brand count a read for one brand takes in its place (docs/brands.md). */
const BRAND_COUNTS = [
  ['orders', 'brand_orders'],
  ['cancelled_orders', 'brand_cancelled_orders'],
  ['cancelled_orders_od', 'brand_cancelled_orders_od'],
  ['refund_count', 'brand_refund_count'],
  ['refund_count_od', 'brand_refund_count_od'],
] as const

/**
 * The measures as one brand reads them: its counts are the per-brand ones (an order of two brands
 * counts once for each), its money the same. A copy; `m` is left as it is.
 */
export function brandView(m: Measures): Measures {
  const out = [...m]
  for (const [count, perBrand] of BRAND_COUNTS) out[measureIndex[count]] = get(m, perBrand)
  return out
}

/**
 * `attributed`: the measures of the attributed (non-organic) part, for POAS; default all of `m`.
 * `forBrand`: the read is for one brand, so its counts are the per-brand ones (`brandView`).
 */
export function kpisOf(
  measures: Measures,
  digits: number,
  view: View,
  attributedPart: Measures = measures,
  forBrand = false,
): Kpis {
  const m = forBrand ? brandView(measures) : measures
  const byOrderDate = view === 'order_date'
  const gmv = get(m, 'gmv')
  const orders = get(m, 'orders')
  const refunds = get(m, byOrderDate ? 'refunds_od' : 'refunds')
  const refundSubtotal = get(m, byOrderDate ? 'refund_subtotal_od' : 'refund_subtotal')
  const netSales = get(m, 'subtotal') - refundSubtotal
  const adSpend = get(m, 'ad_spend')
  const attributed = get(m, 'attributed_revenue')
  const marketing = get(m, 'marketing_cost')
  const aov = divideMinor(netSales, orders)
  const money = (minor: number) => formatMinor(minor, digits)
  const cogs = get(m, 'cogs')
  const gross = netSales - cogs
  const contribution = gross - get(m, 'shipping_cost') - adSpend - marketing
  const fees = get(m, byOrderDate ? 'fees_od' : 'fees')
  return {
    gmv: money(gmv),
    orders,
    units: get(m, 'units'),
    refunds: money(refunds),
    refund_rate: ratio(refunds, gmv),
    cancelled_orders: get(m, byOrderDate ? 'cancelled_orders_od' : 'cancelled_orders'),
    net_sales: money(netSales),
    aov: aov === null ? null : money(aov),
    ad_spend: money(adSpend),
    attributed_revenue: money(attributed),
    roas: ratio(attributed, adSpend),
    marketing_cost: money(marketing),
    mer: ratio(gmv, adSpend + marketing),
    cogs: money(cogs),
    gross_profit: money(gross),
    shipping_cost: money(get(m, 'shipping_cost')),
    contribution_margin: money(contribution),
    margin: ratio(contribution, netSales),
    poas: ratio(grossProfit(attributedPart, view), adSpend),
    fees: money(fees),
    net_profit: money(contribution - fees),
  }
}

/** The measures of rows whose channel is not organic (attributed orders, and all ad spend). */
export function attributedOf(rows: Iterable<MeasureRow>): Measures {
  return sumRows([...rows].filter((r) => r.channel !== 'organic')).get('') ?? zeroMeasures()
}

export function sumRows<R extends MeasureRow>(rows: Iterable<R>, key?: (row: R) => string): Map<string, Measures> {
  const sums = new Map<string, Measures>()
  for (const row of rows) {
    const k = key ? key(row) : ''
    let sum = sums.get(k)
    if (!sum) sums.set(k, (sum = zeroMeasures()))
    addMeasures(sum, row.values)
  }
  return sums
}

export interface KpiReport extends Kpis {
  by_channel: Record<string, Kpis>
  by_source: Record<string, Kpis & { gmv_share: number | null }>
}

/** `forBrand`: the rows are one brand's (see `kpisOf`). */
export function kpiReport(rows: MeasureRow[], digits: number, view: View, forBrand = false): KpiReport {
  const total = sumRows(rows).get('') ?? zeroMeasures()
  const totalGmv = get(total, 'gmv')
  const byChannel: Record<string, Kpis> = {}
  for (const [channel, m] of sorted(sumRows(rows, (r) => r.channel ?? '')))
    byChannel[channel] = kpisOf(m, digits, view, channel === 'organic' ? zeroMeasures() : m, forBrand)
  const bySource: KpiReport['by_source'] = {}
  for (const [source, m] of sorted(sumRows(rows, (r) => r.source ?? ''))) {
    bySource[source] = {
      ...kpisOf(m, digits, view, attributedOf(rows.filter((r) => r.source === source)), forBrand),
      gmv_share: ratio(get(m, 'gmv'), totalGmv),
    }
  }
  const totals = kpisOf(total, digits, view, attributedOf(rows), forBrand)
  return { ...totals, by_channel: byChannel, by_source: bySource }
}

/** KPIs per store with its share of GMV (rows grouped by store among others). */
export function kpisByStore(
  rows: MeasureRow[],
  digits: number,
  view: View,
  forBrand = false,
): Record<string, Kpis & { gmv_share: number | null }> {
  const totalGmv = get(sumRows(rows).get('') ?? zeroMeasures(), 'gmv')
  const out: Record<string, Kpis & { gmv_share: number | null }> = {}
  for (const [store, m] of sorted(sumRows(rows, (r) => r.store ?? ''))) {
    const attributed = attributedOf(rows.filter((r) => (r.store ?? '') === store))
    out[store] = { ...kpisOf(m, digits, view, attributed, forBrand), gmv_share: ratio(get(m, 'gmv'), totalGmv) }
  }
  return out
}

export function sorted<T>(map: Map<string, T>): [string, T][] {
  return [...map].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
}
