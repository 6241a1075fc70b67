// The profit dashboard, pure: net sales, COGS, shipping cost, ad spend, marketing cost,
// gross profit, contribution margin, margin, fees and net profit, in total, per tenant-local day and per channel
// (the KPI formulas of stream/kpis.ts), and per campaign: attributed revenue − its ad spend − the
// COGS of its attributed orders.
import {
  type Kpis,
  type Measures,
  type View,
  addMeasures,
  get,
  kpisOf,
  sumRows,
  zeroMeasures,
} from '../../stream/index.ts'
import { type BinRow, byName, moneyOf } from './shared.ts'

export const PROFIT_FIGURES = [
  'net_sales',
  'cogs',
  'shipping_cost',
  'ad_spend',
  'marketing_cost',
  'gross_profit',
  'contribution_margin',
  'margin',
  'fees',
  'net_profit',
] as const
export type ProfitFigures = Pick<Kpis, (typeof PROFIT_FIGURES)[number]>

export function profitFigures(m: Measures, digits: number, view: View): ProfitFigures {
  const k = kpisOf(m, digits, view)
  return Object.fromEntries(PROFIT_FIGURES.map((f) => [f, k[f]])) as ProfitFigures
}

const PROFIT_MEASURES = [
  'subtotal',
  'refund_subtotal',
  'refund_subtotal_od',
  'cogs',
  'shipping_cost',
  'ad_spend',
  'marketing_cost',
  'fees',
  'fees_od',
] as const
const touchesProfit = (m: Measures) => PROFIT_MEASURES.some((name) => get(m, name) !== 0)

export interface ProfitInput {
  /** '1d' bins grouped by channel and campaign_id. */
  rows: BinRow[]
  /** Every tenant-local day of the range, in order, with its start as ISO. */
  days: { key: string; t: string }[]
  digits: number
  view: View
}

export function profitOf(input: ProfitInput) {
  const { rows, digits, view } = input
  const money = moneyOf(digits)
  const total = sumRows(rows).get('') ?? zeroMeasures()
  const byDay = sumRows(rows, (r) => r.bin)
  const byChannel = sumRows(rows, (r) => r.channel ?? '')

  const campaigns = new Map<string, Measures>()
  for (const r of rows) {
    if (!r.campaign_id || r.channel === 'organic') continue
    let m = campaigns.get(r.campaign_id)
    if (!m) campaigns.set(r.campaign_id, (m = zeroMeasures()))
    addMeasures(m, r.values)
  }

  return {
    view,
    ...profitFigures(total, digits, view),
    by_day: input.days.map(({ key, t }) => ({
      day: key,
      t,
      ...profitFigures(byDay.get(key) ?? zeroMeasures(), digits, view),
    })),
    by_channel: [...byChannel]
      .filter(([channel, m]) => channel !== '' && touchesProfit(m))
      .sort(([a], [b]) => byName(a, b))
      .map(([channel, m]) => ({ channel, ...profitFigures(m, digits, view) })),
    // Campaigns with orders, ad spend or COGS (a marketing send's campaign_id has none of them).
    by_campaign: [...campaigns]
      .filter(
        ([, m]) =>
          get(m, 'orders') !== 0 ||
          get(m, 'attributed_revenue') !== 0 ||
          get(m, 'ad_spend') !== 0 ||
          get(m, 'cogs') !== 0,
      )
      .sort(([a], [b]) => byName(a, b))
      .map(([campaign_id, m]) => {
        const attributed = get(m, 'attributed_revenue')
        const spend = get(m, 'ad_spend')
        const cogs = get(m, 'cogs')
        return {
          campaign_id,
          orders: get(m, 'orders'),
          attributed_revenue: money(attributed),
          ad_spend: money(spend),
          cogs: money(cogs),
          profit: money(attributed - spend - cogs),
        }
      }),
  }
}
