// Reads what each dashboard needs (one consistent read of history + live state where possible)
// and hands it to the pure computations. Routes and live topics answer through this one object,
// so a snapshot is always the HTTP answer.
import { type MetricsReader, binStarts } from '../../clickhouse/index.ts'
import type { TenantRef } from '../../tenants/index.ts'
import { currencyDigits } from '../../common/money.ts'
import {
  type CustomerGroupSums,
  type Processor,
  customerGroupsOf,
  localDayRange,
  zeroGroupSums,
} from '../../stream/index.ts'
import { adsOf } from './ads.ts'
import { type ComparisonRange, compareOf, previousRange } from './compare.ts'
import { dailyOf } from './daily.ts'
import { funnelOf } from './funnel.ts'
import { countHighIntent, monthsTouched, overviewOf } from './overview.ts'
import { profitOf } from './profit.ts'
import { type Range, type ViewRange, header } from './shared.ts'
import { sourcesOf } from './sources.ts'

export interface DashboardsOptions {
  reader: MetricsReader
  processor: Processor
  /**
   * Revenue opportunity by category (docs/metrics.md, "Intent"), computed by the intent dashboard. The
   * master dashboard shows it as `revenue_opportunities`; null while no source is wired.
   */
  revenueOpportunities?: (tenant: TenantRef, asOf: number) => Promise<unknown> | unknown
  /**
   * Users tracked and high-intent users as the intent dashboard counts them (cached at its
   * cadence). Without it they are counted here from the customer store, O(customers) a request.
   */
  intentCounts?: (tenant: TenantRef, asOf: number) => Promise<{ usersTracked: number; highIntentUsers: number }>
}

export const ACTIVITY_DEFAULT_LIMIT = 50

/** Each tenant-local day of the range as its part of [from, to) (the first and last cut by the range). */
function dayRanges(tenant: TenantRef, range: Range, days: { key: string }[]): { from: number; to: number }[] {
  return days.map(({ key }) => {
    const [start, end] = localDayRange(key, tenant.timezone)
    return { from: Math.max(start, range.from), to: Math.min(end, range.to) }
  })
}

export function createDashboards(options: DashboardsOptions) {
  const { reader, processor } = options
  const days = (tenant: TenantRef, r: Range) => binStarts(tenant.timezone, r.from, r.to, '1d')
  const digitsOf = (tenant: TenantRef) => currencyDigits(tenant.currency)

  return {
    async overview(tenant: TenantRef, range: Range) {
      const rows = await reader.measureRows(tenant, {
        from: range.from,
        to: range.to,
        interval: '1d',
        groupBy: ['channel', 'campaign_id'],
      })
      const settings = processor.settings(tenant.id)
      const customers = processor.customers(tenant.id)
      const counts = options.intentCounts
        ? await options.intentCounts(tenant, range.asOf)
        : { usersTracked: customers.size(), highIntentUsers: countHighIntent(customers, range.asOf, settings.intent) }
      return {
        ...header(tenant, range),
        ...overviewOf({
          rows,
          fees: settings.fees,
          months: monthsTouched(range.from, range.to, tenant.timezone),
          ...counts,
          digits: digitsOf(tenant),
        }),
        revenue_opportunities: options.revenueOpportunities
          ? await options.revenueOpportunities(tenant, range.asOf)
          : null,
        freshness: reader.freshness(tenant.id),
      }
    },

    async ads(tenant: TenantRef, range: Range & { brand?: string }) {
      const brand = range.brand ?? null
      const rows = await reader.measureRows(tenant, {
        from: range.from,
        to: range.to,
        groupBy: ['channel', 'campaign_id', 'city', 'brand', 'category'],
        where: brand === null ? undefined : { brand },
      })
      return {
        ...header(tenant, range),
        ...adsOf({ rows, brand, digits: digitsOf(tenant), campaignNames: processor.campaignNames(tenant.id) }),
        freshness: reader.freshness(tenant.id),
      }
    },

    async profit(tenant: TenantRef, range: ViewRange) {
      const rows = await reader.measureRows(tenant, {
        from: range.from,
        to: range.to,
        interval: '1d',
        groupBy: ['channel', 'campaign_id'],
      })
      return {
        ...header(tenant, range),
        ...profitOf({ rows, days: days(tenant, range), digits: digitsOf(tenant), view: range.view }),
        freshness: reader.freshness(tenant.id),
      }
    },

    /** Whole tenant-local days touched by the range: distinct customers do not split by minute. */
    async funnel(tenant: TenantRef, range: Range) {
      const all = days(tenant, range)
      const counts = processor.funnel.counts(tenant.id, all[0].key, all[all.length - 1].key)
      return { ...header(tenant, range), ...funnelOf(counts, all), freshness: reader.freshness(tenant.id) }
    },

    async daily(tenant: TenantRef, range: ViewRange) {
      const all = days(tenant, range)
      let groups: CustomerGroupSums[] = []
      const rows = await reader.measureRows(tenant, {
        from: range.from,
        to: range.to,
        interval: '1d',
        groupBy: ['source', 'channel'],
        atRead: () => {
          groups = customerGroupsOf(processor.orders(tenant.id), dayRanges(tenant, range, all), range.view)
        },
      })
      return {
        ...header(tenant, range),
        ...dailyOf({ rows, days: all, digits: digitsOf(tenant), view: range.view, groups }),
        freshness: reader.freshness(tenant.id),
      }
    },

    /** The range against a comparison range (`comparisonRange`; default the previous range of equal length). */
    async compare(tenant: TenantRef, range: ViewRange & { against?: ComparisonRange }) {
      const prev = range.against ?? { mode: 'previous_period' as const, ...previousRange(range.from, range.to) }
      const groups = { current: zeroGroupSums(), previous: zeroGroupSums() }
      const rowsOf = async (r: { from: number; to: number }, part: keyof typeof groups) => {
        // Nothing happened before 1970 (no instant lies there): a range reaching back that far is read from 1970.
        if (r.to <= 0) return []
        const read = { from: Math.max(0, r.from), to: r.to }
        return reader.measureRows(tenant, {
          ...read,
          groupBy: ['source', 'channel'],
          atRead: () => {
            groups[part] = customerGroupsOf(processor.orders(tenant.id), [read], range.view)[0]
          },
        })
      }
      const [current, previous] = await Promise.all([rowsOf(range, 'current'), rowsOf(prev, 'previous')])
      const iso = (r: { from: number; to: number }) => ({
        from: new Date(r.from).toISOString(),
        to: new Date(r.to).toISOString(),
      })
      return {
        ...header(tenant, range),
        ...compareOf({
          current,
          previous,
          digits: digitsOf(tenant),
          view: range.view,
          mode: prev.mode,
          ranges: { current: iso(range), previous: iso(prev) },
          groups,
        }),
        freshness: reader.freshness(tenant.id),
      }
    },

    async sources(tenant: TenantRef, range: ViewRange) {
      let groups = zeroGroupSums()
      const rows = await reader.measureRows(tenant, {
        from: range.from,
        to: range.to,
        groupBy: ['source', 'channel'],
        atRead: () => {
          groups = customerGroupsOf(processor.orders(tenant.id), [range], range.view)[0]
        },
      })
      return {
        ...header(tenant, range),
        ...sourcesOf(rows, digitsOf(tenant), range.view, groups),
        freshness: reader.freshness(tenant.id),
      }
    },

    /** The newest orders, refunds, cancellations, carts and checkouts, newest first. */
    activity(tenant: TenantRef, limit = ACTIVITY_DEFAULT_LIMIT) {
      return { items: processor.activity.latest(tenant.id, limit), freshness: reader.freshness(tenant.id) }
    },
  }
}

export type Dashboards = ReturnType<typeof createDashboards>
