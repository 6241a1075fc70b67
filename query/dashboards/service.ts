// Reads what each dashboard needs (one consistent read of history + live state where possible)
// and hands it to the pure computations. Routes and live topics answer through this one object,
// so a snapshot is always the HTTP answer.
import {
  type BinnedRow,
  type MetricsReader,
  type RollupFilter,
  type RowQuery,
  binStarts,
  filterOf,
} from '../../clickhouse/index.ts'
import type { TenantRef } from '../../tenants/index.ts'
import { currencyDigits } from '../../common/money.ts'
import {
  CUSTOMER_GROUP_FIELDS,
  type CustomerGroupSums,
  type Processor,
  brandView,
  customerGroupsOf,
  kpisByStore,
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

const isFiltered = (f: RollupFilter) => f.brand !== undefined || f.store !== undefined
const GROUP_FIELDS = new Set<string>(CUSTOMER_GROUP_FIELDS)

/**
 * The answer with the new, returning and guest figures null wherever they appear, when the read is
 * for a brand or store: they are not split by brand or store yet (docs/brands.md).
 */
function withoutGroups<T>(answer: T, f: RollupFilter): T {
  if (!isFiltered(f)) return answer
  const walk = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(walk)
    if (v === null || typeof v !== 'object') return v
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, GROUP_FIELDS.has(k) ? null : walk(x)]))
  }
  return walk(answer) as T
}

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
  /** Rows of `brand=` and `store=` only; a brand's rows read with its per-brand counts (`brandView`). */
  const measureRows = async (tenant: TenantRef, q: RowQuery, f: RollupFilter): Promise<BinnedRow[]> => {
    const rows = await reader.measureRows(tenant, { ...q, where: { ...q.where, ...filterOf(f) } })
    return f.brand === undefined ? rows : rows.map((r) => ({ ...r, values: brandView(r.values) }))
  }
  const filterHead = (f: RollupFilter) => ({
    ...(f.brand === undefined ? {} : { brand: f.brand }),
    ...(f.store === undefined ? {} : { store: f.store }),
  })

  return {
    async overview(tenant: TenantRef, range: Range & RollupFilter) {
      const rows = await measureRows(
        tenant,
        { from: range.from, to: range.to, interval: '1d', groupBy: ['channel', 'campaign_id'] },
        range,
      )
      const settings = processor.settings(tenant.id)
      const customers = processor.customers(tenant.id)
      const counts = options.intentCounts
        ? await options.intentCounts(tenant, range.asOf)
        : { usersTracked: customers.size(), highIntentUsers: countHighIntent(customers, range.asOf, settings.intent) }
      return {
        ...header(tenant, range),
        ...filterHead(range),
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

    async ads(tenant: TenantRef, range: Range & RollupFilter) {
      const brand = range.brand ?? null
      const rows = await measureRows(
        tenant,
        { from: range.from, to: range.to, groupBy: ['channel', 'campaign_id', 'city', 'brand', 'category'] },
        range,
      )
      return {
        ...header(tenant, range),
        ...(range.store === undefined ? {} : { store: range.store }),
        ...adsOf({ rows, brand, digits: digitsOf(tenant), campaignNames: processor.campaignNames(tenant.id) }),
        freshness: reader.freshness(tenant.id),
      }
    },

    async profit(tenant: TenantRef, range: ViewRange & RollupFilter) {
      const rows = await measureRows(
        tenant,
        { from: range.from, to: range.to, interval: '1d', groupBy: ['channel', 'campaign_id'] },
        range,
      )
      return {
        ...header(tenant, range),
        ...filterHead(range),
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

    async daily(tenant: TenantRef, range: ViewRange & RollupFilter) {
      const all = days(tenant, range)
      let groups: CustomerGroupSums[] = []
      const rows = await measureRows(
        tenant,
        {
          from: range.from,
          to: range.to,
          interval: '1d',
          groupBy: ['source', 'channel'],
          atRead: () => {
            if (isFiltered(range)) return
            groups = customerGroupsOf(processor.orders(tenant.id), dayRanges(tenant, range, all), range.view)
          },
        },
        range,
      )
      return withoutGroups(
        {
          ...header(tenant, range),
          ...filterHead(range),
          ...dailyOf({ rows, days: all, digits: digitsOf(tenant), view: range.view, groups }),
          freshness: reader.freshness(tenant.id),
        },
        range,
      )
    },

    /** The range against a comparison range (`comparisonRange`; default the previous range of equal length). */
    async compare(tenant: TenantRef, range: ViewRange & RollupFilter & { against?: ComparisonRange }) {
      const prev = range.against ?? { mode: 'previous_period' as const, ...previousRange(range.from, range.to) }
      const groups = { current: zeroGroupSums(), previous: zeroGroupSums() }
      const rowsOf = async (r: { from: number; to: number }, part: keyof typeof groups) => {
        // Nothing happened before 1970 (no instant lies there): a range reaching back that far is read from 1970.
        if (r.to <= 0) return []
        const read = { from: Math.max(0, r.from), to: r.to }
        return measureRows(
          tenant,
          {
            ...read,
            groupBy: ['source', 'channel'],
            atRead: () => {
              if (!isFiltered(range))
                groups[part] = customerGroupsOf(processor.orders(tenant.id), [read], range.view)[0]
            },
          },
          range,
        )
      }
      const [current, previous] = await Promise.all([rowsOf(range, 'current'), rowsOf(prev, 'previous')])
      const iso = (r: { from: number; to: number }) => ({
        from: new Date(r.from).toISOString(),
        to: new Date(r.to).toISOString(),
      })
      return withoutGroups(
        {
          ...header(tenant, range),
          ...filterHead(range),
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
        },
        range,
      )
    },

    /** KPIs per source with shares, and the same per store (`by_store`). */
    async sources(tenant: TenantRef, range: ViewRange & RollupFilter) {
      let groups = zeroGroupSums()
      const rows = await measureRows(
        tenant,
        {
          from: range.from,
          to: range.to,
          groupBy: ['source', 'channel', 'store'],
          atRead: () => {
            if (!isFiltered(range)) groups = customerGroupsOf(processor.orders(tenant.id), [range], range.view)[0]
          },
        },
        range,
      )
      const digits = digitsOf(tenant)
      const byStore = kpisByStore(rows, digits, range.view)
      return withoutGroups(
        {
          ...header(tenant, range),
          ...filterHead(range),
          ...sourcesOf(rows, digits, range.view, groups),
          by_store: Object.entries(byStore).map(([store, k]) => ({ store, ...k })),
          freshness: reader.freshness(tenant.id),
        },
        range,
      )
    },

    /** The newest orders, refunds, cancellations, carts and checkouts, newest first. */
    activity(tenant: TenantRef, limit = ACTIVITY_DEFAULT_LIMIT) {
      return { items: processor.activity.latest(tenant.id, limit), freshness: reader.freshness(tenant.id) }
    },
  }
}

export type Dashboards = ReturnType<typeof createDashboards>
