// The campaign (RFM) dashboard, the intent dashboard and one customer's card, computed from the
// stream stage's in-memory customer state through the cache of customer-analytics.ts. HTTP routes
// and live topics answer through this one object, so a snapshot is always the HTTP answer.
import type { MetricsReader } from '../clickhouse/index.ts'
import type { TenantRef } from '../tenants/index.ts'
import type { Log } from '../common/log.ts'
import { currencyDigits, formatMinor, toMinor } from '../common/money.ts'
import { type CustomerSource, createCustomerAnalytics } from './customer-analytics.ts'
import { intentDashboard, levelOf } from './intent.ts'
import { DAY_MS, type RfmFilter, customerRfm, indexOf, rfmDashboard } from './rfm.ts'

export interface CustomerViewsOptions {
  source: CustomerSource
  /** For the tenant's AOV over the last 90 days (estimated spend of customers without orders). */
  reader: Pick<MetricsReader, 'kpis'>
  now: () => number
  maxCachedCustomers?: number
  maxIntervalMs?: number
  /** See customer-analytics.ts: lets live topics catch up after a change served at the cadence. */
  recomputable?: (tenant: string) => void
  log?: Log
}

export interface RfmParams extends RfmFilter {
  as_of?: number
  from?: number
  to?: number
}

export interface IntentParams {
  as_of?: number
  category?: string
  page: number
  page_size: number
}

const NOW_SLACK_MS = 5_000
const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString())

export function createCustomerViews(options: CustomerViewsOptions) {
  const { reader } = options
  const analytics = createCustomerAnalytics(options)

  /**
   * docs/metrics.md, "Intent": the tenant's AOV over the last 90 days, [as_of − 90 d, as_of), as the KPIs define it.
   */
  async function recentAov(tenant: TenantRef, asOf: number): Promise<number | null> {
    const { aov } = await reader.kpis(tenant, { asOf, from: asOf - 90 * DAY_MS, to: asOf, view: 'transaction_date' })
    return aov === null ? null : toMinor(aov, currencyDigits(tenant.currency))
  }

  const intentAt = (tenant: TenantRef, asOf?: number) =>
    analytics.intent(tenant.id, asOf, (at) => recentAov(tenant, at))
  const nowish = (asOf?: number) =>
    asOf === undefined || Math.abs(asOf - options.now()) < NOW_SLACK_MS ? undefined : asOf

  return {
    /** Call for every applied event of the tenant (the stream consumer's change signal). */
    changed: analytics.changed,

    async rfm(tenant: TenantRef, p: RfmParams) {
      const { asOf, ranking } = await analytics.ranking(tenant.id, {
        asOf: p.as_of,
        from: p.from,
        to: p.to,
        timezone: tenant.timezone,
      })
      return {
        currency: tenant.currency,
        as_of: new Date(asOf).toISOString(),
        from: iso(p.from),
        to: iso(p.to),
        filters: {
          customer_id: p.customerId ?? null,
          r: p.r ?? null,
          f: p.f ?? null,
          m: p.m ?? null,
          segment: p.segment ?? null,
          r_value_bucket: p.rValueBucket ?? null,
          f_value_bucket: p.fValueBucket ?? null,
          m_value_bucket: p.mValueBucket ?? null,
        },
        ...rfmDashboard(ranking, currencyDigits(tenant.currency), p),
      }
    },

    async intent(tenant: TenantRef, p: IntentParams) {
      const { asOf, summary, approximate } = await intentAt(tenant, p.as_of)
      const { intent } = options.source.settings(tenant.id)
      return {
        currency: tenant.currency,
        as_of: new Date(asOf).toISOString(),
        thresholds: { high: intent.high, medium: intent.medium, half_life_hours: intent.half_life_hours },
        approximate_customers: approximate,
        ...intentDashboard(summary, currencyDigits(tenant.currency), {
          category: p.category,
          page: p.page,
          pageSize: p.page_size,
        }),
      }
    },

    /**
     * Revenue opportunity by category, for the master dashboard. An as_of within a few seconds
     * of now counts as now, so the dashboard's live topic shares the bounded cadence.
     */
    async revenueOpportunities(tenant: TenantRef, asOf?: number) {
      const { summary } = await intentAt(tenant, nowish(asOf))
      const digits = currencyDigits(tenant.currency)
      return summary.opportunity.map((o) => ({
        category: o.category || null,
        users: o.users,
        estimated_spend: formatMinor(o.estimatedSpend, digits),
      }))
    },

    /** Users tracked and high-intent users, for the master dashboard (as_of as above). */
    async intentCounts(tenant: TenantRef, asOf?: number) {
      const { summary } = await intentAt(tenant, nowish(asOf))
      return { usersTracked: summary.usersTracked, highIntentUsers: summary.byLevel.high }
    },

    /** One customer's RFM (ranked over all customers) and intent; undefined when never seen. */
    async customer(tenant: TenantRef, id: string, asOfParam?: number) {
      // The same facts as the dashboard's (one cache entry): with the fiscal years.
      const { asOf, ranking } = await analytics.ranking(tenant.id, { asOf: asOfParam, timezone: tenant.timezone })
      const intent = analytics.customerIntent(tenant.id, id, asOf)
      if (!intent) return undefined
      const digits = currencyDigits(tenant.currency)
      const i = indexOf(ranking, id)
      const rfm = i < 0 ? undefined : customerRfm(ranking, i)
      return {
        customer_id: id,
        currency: tenant.currency,
        as_of: new Date(asOf).toISOString(),
        recency_days: rfm?.recencyDays ?? null,
        frequency: rfm?.frequency ?? 0,
        monetary: formatMinor(rfm?.monetary ?? 0, digits),
        r: rfm?.r ?? null,
        f: rfm?.f ?? null,
        m: rfm?.m ?? null,
        segment: rfm?.segment ?? null,
        intent_level: levelOf(intent.score, intent.thresholds),
        intent_score: intent.score,
        intent_category: intent.category || null,
        intent_exact: intent.exact,
        events: intent.events,
        location: intent.city || null,
        first_order_at: iso(rfm?.firstOrderAt),
        last_order_at: iso(rfm?.lastOrderAt),
        gross_profit: formatMinor(rfm?.grossProfit ?? 0, digits),
      }
    },
  }
}

export type CustomerViews = ReturnType<typeof createCustomerViews>
