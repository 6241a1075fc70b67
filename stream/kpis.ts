// SPEC §4 order/refund/ad metrics from summed measures. Pure: the same function answers HTTP,
// WebSocket snapshots and timeseries bins, so every surface shows the same figures.
import { divideMinor, formatMinor } from '../common/money.ts'
import { type Measures, addMeasures, get, zeroMeasures } from './measures.ts'

export type View = 'transaction_date' | 'order_date'

/** Summed measures of one (source, channel) pair over a range. */
export interface MeasureRow {
  source: string
  channel: string
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
}

const ratio = (a: number, b: number): number | null => (b === 0 ? null : a / b)

export function kpisOf(m: Measures, digits: number, view: View): Kpis {
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
  }
}

export function sumRows(rows: Iterable<MeasureRow>, key?: (row: MeasureRow) => string): Map<string, Measures> {
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

export function kpiReport(rows: MeasureRow[], digits: number, view: View): KpiReport {
  const total = sumRows(rows).get('') ?? zeroMeasures()
  const totalGmv = get(total, 'gmv')
  const byChannel: Record<string, Kpis> = {}
  for (const [channel, m] of [...sumRows(rows, (r) => r.channel)].sort(([a], [b]) => (a < b ? -1 : 1))) byChannel[channel] = kpisOf(m, digits, view)
  const bySource: KpiReport['by_source'] = {}
  for (const [source, m] of [...sumRows(rows, (r) => r.source)].sort(([a], [b]) => (a < b ? -1 : 1))) {
    bySource[source] = { ...kpisOf(m, digits, view), gmv_share: ratio(get(m, 'gmv'), totalGmv) }
  }
  return { ...kpisOf(total, digits, view), by_channel: byChannel, by_source: bySource }
}
