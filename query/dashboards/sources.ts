// KPIs by source with share (`/metrics/kpis` by source), pure: every source's
// KPIs and its share (its value ÷ the total) of each additive figure.
import {
  type CustomerGroupSums,
  type Kpis,
  type MeasureRow,
  type View,
  customerGroupFigures,
  kpiReport,
  zeroGroupSums,
} from '../../stream/index.ts'
import { numberOf, ratio } from './shared.ts'

export const SHARED_FIGURES = [
  'gmv',
  'orders',
  'units',
  'refunds',
  'cancelled_orders',
  'net_sales',
  'ad_spend',
  'attributed_revenue',
  'marketing_cost',
  'cogs',
  'gross_profit',
] as const
export type Shares = Record<(typeof SHARED_FIGURES)[number], number | null>

export function sharesOf(part: Kpis, whole: Kpis): Shares {
  return Object.fromEntries(
    SHARED_FIGURES.map((f) => [f, ratio(numberOf(part[f]) ?? 0, numberOf(whole[f]) ?? 0)]),
  ) as Shares
}

/** `rows`: grouped by source and channel over the range; `groups`: new, returning and guest figures. */
export function sourcesOf(rows: MeasureRow[], digits: number, view: View, groups?: CustomerGroupSums) {
  const { by_channel: _, by_source, ...total } = kpiReport(rows, digits, view)
  return {
    view,
    total: { ...total, ...customerGroupFigures(groups ?? zeroGroupSums(), digits) },
    sources: Object.entries(by_source).map(([source, k]) => ({ source, ...k, share: sharesOf(k, total) })),
  }
}
