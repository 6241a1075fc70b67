// Query parameters (validated with these) and answer shapes (documented with these in
// /openapi.json) of the dashboard routes.
import { z } from 'zod'
import { instant } from '../../common/events.ts'
import { FUNNEL_STEPS } from '../../stream/index.ts'
import { filterParams, rangeParams } from '../params.ts'
import { COMPARE_MODES } from './compare.ts'

// ── query parameters ───────────────────────────────
/** `from`, `to`, `as_of` (default: the tenant-local day holding as_of, up to as_of) and `view`. */
export const viewRangeQuery = rangeParams
export const rangeQuery = rangeParams.omit({ view: true })
/** The range with `brand` and `store` (docs/brands.md): one brand's share, one store's rows. */
export const filteredRangeQuery = rangeQuery.extend(filterParams)
export const filteredViewRangeQuery = viewRangeQuery.extend(filterParams)
export const adsQuery = filteredRangeQuery
/** The range, `view`, and what to compare it with: `compare=` or `compare_from` with `compare_to`. */
export const compareQuery = filteredViewRangeQuery.extend({
  compare: z
    .enum(COMPARE_MODES)
    .optional()
    .describe(
      'previous_period (default): the range of equal length ending at from; previous_year: from and to each ' +
        'one calendar year earlier in the tenant’s time zone (29 February → 28 February). Not with compare_from/compare_to',
    ),
  compare_from: instant.optional().describe('Start of the comparison range (with compare_to); ISO 8601 with an offset'),
  compare_to: instant.optional().describe('End of the comparison range, exclusive (with compare_from), after it'),
})
export const activityQuery = z.object({
  limit: z.coerce.number().int().min(1).max(500).default(50).describe('How many items, newest first (at most 500)'),
})

// ── answers ──────────────────────────────────
const money = z.string().describe('Decimal string with the currency’s minor-unit digits, rounded half away from zero')
const fraction = z.number().nullable().describe('A fraction (0.25 for 25 %); null when its divisor is 0')
const count = z.number().int()
const freshness = z
  .record(z.string(), z.object({ latest_event_at: z.string(), watermark: z.string(), late_events: count }))
  .describe('Per source: latest event time, watermark, late events folded in')
const head = { currency: z.string(), timezone: z.string(), from: z.string(), to: z.string(), as_of: z.string() }
const view = z.enum(['transaction_date', 'order_date'])
const dayBin = {
  day: z.string().describe('Tenant-local day, YYYY-MM-DD'),
  t: z.string().describe('Its start, ISO 8601 with the tenant’s offset'),
}

export const kpisSchema = z.object({
  gmv: money,
  orders: count,
  units: count,
  refunds: money,
  refund_rate: fraction,
  cancelled_orders: count,
  net_sales: money,
  aov: money.nullable(),
  ad_spend: money,
  attributed_revenue: money,
  roas: fraction,
  marketing_cost: money,
  mer: fraction,
  cogs: money,
  gross_profit: money,
  shipping_cost: money,
  contribution_margin: money,
  margin: fraction,
  poas: fraction,
  fees: money.describe('The seller’s fees: orders’ − refunds’ + fee.charged'),
  net_profit: money.describe('contribution_margin − fees'),
})
/**
 * New, returning and guest figures (docs/metrics.md, "New and returning customers"): the totals
 * only; null with `brand=` or `store=` (not split by them yet, docs/brands.md).
 */
export const customerGroupsSchema = {
  new_customers: count.nullable().describe('Customers with an order in the range whose first order ever lies in it'),
  returning_customers: count
    .nullable()
    .describe('Customers with an order in the range whose first order lies before it'),
  new_orders: count.nullable(),
  new_gmv: money.nullable(),
  new_net_sales: money.nullable(),
  returning_orders: count.nullable(),
  returning_gmv: money.nullable(),
  returning_net_sales: money.nullable(),
  guest_orders: count.nullable().describe('Orders without a customer id'),
  guest_gmv: money.nullable(),
  guest_net_sales: money.nullable(),
}
const totalKpis = kpisSchema.extend(customerGroupsSchema)
const kpiChanges = z.record(z.string(), fraction).describe('Per KPI: (current − previous) ÷ previous')

export const overviewAnswer = z.object({
  ...head,
  gmv: money,
  orders: count,
  attributed_revenue: money,
  attributed_share: fraction,
  high_intent_revenue: money,
  ad_spend: money,
  users_tracked: count.describe('Distinct customers with any event, all time'),
  high_intent_users: count.describe('Customers whose intent at as_of is high'),
  platform_revenue: z.object({
    total: money,
    monthly_retainer: z.object({
      per_month: money,
      months: z.array(z.string()).describe('Tenant-local months (YYYY-MM) the range touches'),
      amount: money,
    }),
    ad_commission: z.object({ rate: z.number(), ad_spend: money, amount: money }),
    high_intent_premium: z.object({
      premium_rate: z.number(),
      spend_share: z.number(),
      high_intent_ad_spend: money,
      amount: money,
    }),
  }),
  revenue_opportunities: z
    .unknown()
    .nullable()
    .describe('Revenue opportunity by category, as the intent dashboard computes it'),
  freshness,
})

const adFigures = {
  ad_spend: money,
  ad_revenue: money,
  roas: fraction,
  impressions: count.describe('Σ impressions the platforms reported on the standing statements'),
  clicks: count.describe('Σ clicks the platforms reported'),
  conversions: z.number().describe('Σ conversions the platforms reported (to a thousandth; may be fractional)'),
  conversion_value: money.describe('Σ conversion value the platforms reported'),
  ctr: fraction.describe('clicks ÷ impressions'),
  cpc: money.nullable().describe('ad_spend ÷ clicks, rounded half away from zero; null without clicks'),
  cpm: money.nullable().describe('ad_spend ÷ impressions × 1000, rounded half away from zero'),
  cpa: money.nullable().describe('ad_spend ÷ conversions, rounded half away from zero'),
  platform_roas: fraction.describe("conversion_value ÷ ad_spend: the platforms' own ROAS, beside roas"),
}
const salesFigures = { revenue: money, ad_revenue: money, units: count, share: fraction }
export const adsAnswer = z.object({
  ...head,
  brand: z.string().nullable(),
  ...adFigures,
  by_channel: z.array(z.object({ channel: z.string(), ...adFigures })),
  by_campaign: z.array(
    z.object({
      campaign_id: z.string(),
      campaign_name: z.string().nullable().describe('The newest name the platform gave (null: none given)'),
      channels: z.array(z.string()),
      ...adFigures,
    }),
  ),
  by_brand: z.array(z.object({ brand: z.string(), ...adFigures })),
  unassigned_ad_spend: money.describe('Spend of statements carrying no brand (never spread over brands)'),
  by_city: z.array(z.object({ city: z.string(), ...salesFigures })),
  by_category: z.array(z.object({ category: z.string(), ...salesFigures })),
  freshness,
})

const profitFigures = {
  net_sales: money,
  cogs: money,
  shipping_cost: money,
  ad_spend: money,
  marketing_cost: money,
  gross_profit: money,
  contribution_margin: money,
  margin: fraction,
  fees: money,
  net_profit: money,
}
export const profitAnswer = z.object({
  ...head,
  view,
  ...profitFigures,
  by_day: z.array(z.object({ ...dayBin, ...profitFigures })),
  by_channel: z.array(z.object({ channel: z.string(), ...profitFigures })),
  by_campaign: z.array(
    z.object({
      campaign_id: z.string(),
      orders: count,
      attributed_revenue: money,
      ad_spend: money,
      cogs: money,
      profit: money,
    }),
  ),
  freshness,
})

const funnelStep = z.object({ step: z.enum(FUNNEL_STEPS), count, conversion: fraction, drop_off: fraction })
export const funnelAnswer = z.object({
  ...head,
  steps: z.array(z.enum(FUNNEL_STEPS)),
  days: z.array(z.object({ ...dayBin, steps: z.array(funnelStep) })),
  totals: z.array(funnelStep).describe('Σ of the daily counts (customer-days)'),
  conversion: fraction.describe('ordered ÷ product_viewed over the totals'),
  freshness,
})

export const dailyAnswer = z.object({
  ...head,
  view,
  days: z.array(
    z.object({
      ...dayBin,
      total: totalKpis,
      by_source: z.record(z.string(), kpisSchema.extend({ gmv_share: fraction })),
    }),
  ),
  freshness,
})

const rangeKpis = totalKpis.extend({ from: z.string(), to: z.string() })
export const compareAnswer = z.object({
  ...head,
  view,
  compare: z
    .object({ mode: z.enum([...COMPARE_MODES, 'custom']), from: z.string(), to: z.string() })
    .describe('The comparison range (the same as previous.from and previous.to) and how it was chosen'),
  current: rangeKpis,
  previous: rangeKpis,
  change: kpiChanges,
  by_source: z.record(z.string(), z.object({ current: kpisSchema, previous: kpisSchema, change: kpiChanges })),
  freshness,
})

export const sourcesAnswer = z.object({
  ...head,
  view,
  total: totalKpis,
  sources: z.array(
    kpisSchema.extend({
      source: z.string(),
      gmv_share: fraction,
      share: z.record(z.string(), fraction).describe('Its value ÷ the total, per additive figure'),
    }),
  ),
  by_store: z
    .array(kpisSchema.extend({ store: z.string(), gmv_share: fraction }))
    .describe("KPIs per store ('' for events without one)"),
  freshness,
})

export const activityAnswer = z.object({
  items: z.array(
    z.object({
      event_id: z.string(),
      type: z.string(),
      ts: z.string(),
      customer_id: z.string().nullable(),
      amount: money.nullable(),
      description: z.string(),
    }),
  ),
  freshness,
})
