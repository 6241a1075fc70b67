// The dashboard routes: master (overview), ads and brands, profit, funnel, daily
// metrics per source, period comparison, KPIs by source with share, and the activity feed.
import { Hono } from 'hono'
import { createMiddleware } from 'hono/factory'
import type { z } from 'zod'
import { registerRoute } from '../../common/openapi.ts'
import { type TenantEnv, type TenantRegistry, requireTenant } from '../../tenants/index.ts'
import { MAX_RANGE_DAYS, checkRange, parseQuery, resolveRange } from '../params.ts'
import {
  activityAnswer,
  activityQuery,
  adsAnswer,
  adsQuery,
  compareAnswer,
  compareQuery,
  dailyAnswer,
  filteredRangeQuery,
  filteredViewRangeQuery,
  funnelAnswer,
  overviewAnswer,
  profitAnswer,
  rangeQuery,
  sourcesAnswer,
  type viewRangeQuery,
} from './schemas.ts'
import { comparisonOf, comparisonRange } from './compare.ts'
import type { Dashboards } from './service.ts'
import type { TenantQueues } from './tenant-queue.ts'

const RANGE =
  'Range [from, to): ISO 8601 with an offset; default the tenant-local day holding as_of (default now), up to as_of; ' +
  `at most ${MAX_RANGE_DAYS['1d']} days. A few reads of one tenant run at once; past a short queue, 429.`
const FILTERS =
  "brand= narrows every figure to that brand's share (docs/brands.md), store= to that store's rows; " +
  'new and returning figures are then null.'
const docs: { path: string; summary: string; description: string; query: z.ZodObject; response: z.ZodType }[] = [
  {
    path: '/v1/dashboards/overview',
    summary: 'Master dashboard: GMV, attributed revenue and share, users tracked, high-intent users, platform revenue',
    description:
      `${RANGE} ${FILTERS} Platform revenue = monthly retainer × tenant-local calendar months the range touches ` +
      '+ ad commission rate × ad spend ' +
      '+ high-intent premium rate × spend share × ad spend on high-intent purchases (see README).',
    query: filteredRangeQuery,
    response: overviewAnswer,
  },
  {
    path: '/v1/dashboards/ads',
    summary:
      'Ads and brands: ad spend, ad-driven revenue and ROAS, with impressions, clicks, platform conversions, ' +
      'CTR, CPC, CPM, CPA and platform ROAS, overall, per channel, campaign (with its name) and brand; ' +
      'revenue by city and category',
    description:
      `${RANGE} ${FILTERS} Per brand, ad revenue is the brand's share of attributed orders' total and ` +
      'spend the statements carrying the brand; spend without a brand is reported as unassigned.',
    query: adsQuery,
    response: adsAnswer,
  },
  {
    path: '/v1/dashboards/profit',
    summary:
      'Profit: net sales, COGS, shipping, ad spend, marketing, gross profit, contribution margin, margin; ' +
      'per day, channel and campaign',
    description: `${RANGE} ${FILTERS} view=order_date counts refunds in their orders' windows.`,
    query: filteredViewRangeQuery,
    response: profitAnswer,
  },
  {
    path: '/v1/dashboards/funnel',
    summary: 'Funnel per tenant-local day: viewed → cart → checkout → ordered, with conversion and drop-off',
    description: `${RANGE} Whole tenant-local days touched by the range.`,
    query: rangeQuery,
    response: funnelAnswer,
  },
  {
    path: '/v1/metrics/daily',
    summary: 'KPIs per tenant-local day, in total and per source',
    description: `${RANGE} ${FILTERS}`,
    query: filteredViewRangeQuery,
    response: dailyAnswer,
  },
  {
    path: '/v1/metrics/compare',
    summary:
      'KPIs of the range and of a comparison range (default the previous range of equal length), ' +
      'with changes as fractions',
    description:
      `${RANGE} ${FILTERS} Comparison range: compare=previous_period (default) [from − (to − from), from); ` +
      'compare=previous_year from and to each one calendar year earlier in the tenant’s time zone ' +
      '(29 February → 28 February); or compare_from and compare_to (both, compare_to after compare_from, not with compare=; ' +
      `at most ${MAX_RANGE_DAYS['1d']} days). The answer's compare {mode, from, to} names it. ` +
      'change = (current − previous) ÷ previous; null when previous is 0.',
    query: compareQuery,
    response: compareAnswer,
  },
  {
    path: '/v1/metrics/sources',
    summary: 'KPIs per source with each source’s share of every additive figure',
    description: `${RANGE} ${FILTERS}`,
    query: filteredViewRangeQuery,
    response: sourcesAnswer,
  },
  {
    path: '/v1/activity',
    summary: 'The live activity feed: newest orders, refunds, cancellations, carts and checkouts first',
    description: 'The same object as the `activity` live topic.',
    query: activityQuery,
    response: activityAnswer,
  },
]
for (const doc of docs) registerRoute({ method: 'get', tags: ['dashboards'], ...doc })

export interface DashboardRoutesOptions {
  tenants: TenantRegistry
  dashboards: Dashboards
  now: () => number
  /** Per-tenant bound on these reads; without it they run at once. */
  queue?: TenantQueues
}

export function dashboardRoutes(options: DashboardRoutesOptions) {
  const { dashboards, now } = options
  const authenticate = requireTenant(options.tenants)
  // /v1/metrics/* may be authenticated already by the metric routes' middleware.
  const auth = createMiddleware<TenantEnv>(async (c, next) => (c.get('tenant') ? next() : authenticate(c, next)))

  const range = <
    S extends
      | typeof rangeQuery
      | typeof viewRangeQuery
      | typeof filteredRangeQuery
      | typeof filteredViewRangeQuery
      | typeof compareQuery,
  >(
    schema: S,
    query: Record<string, string>,
    timezone: string,
  ) => {
    const p = parseQuery(schema, query) as z.infer<S>
    const r = resolveRange(p, timezone, now())
    checkRange(r.from, r.to, MAX_RANGE_DAYS['1d'])
    return { ...p, ...r }
  }
  const fair = <T>(tenant: string, read: () => Promise<T>) => (options.queue ? options.queue.run(tenant, read) : read())

  return new Hono<TenantEnv>()
    .get('/v1/dashboards/overview', auth, async (c) => {
      const tenant = c.get('tenant')
      const r = range(filteredRangeQuery, c.req.query(), tenant.timezone)
      return c.json(await fair(tenant.id, () => dashboards.overview(tenant, r)))
    })
    .get('/v1/dashboards/ads', auth, async (c) => {
      const tenant = c.get('tenant')
      const r = range(adsQuery, c.req.query(), tenant.timezone)
      return c.json(await fair(tenant.id, () => dashboards.ads(tenant, r)))
    })
    .get('/v1/dashboards/profit', auth, async (c) => {
      const tenant = c.get('tenant')
      const r = range(filteredViewRangeQuery, c.req.query(), tenant.timezone)
      return c.json(await fair(tenant.id, () => dashboards.profit(tenant, r)))
    })
    .get('/v1/dashboards/funnel', auth, async (c) => {
      const tenant = c.get('tenant')
      const r = range(rangeQuery, c.req.query(), tenant.timezone)
      return c.json(await fair(tenant.id, () => dashboards.funnel(tenant, r)))
    })
    .get('/v1/metrics/daily', auth, async (c) => {
      const tenant = c.get('tenant')
      const r = range(filteredViewRangeQuery, c.req.query(), tenant.timezone)
      return c.json(await fair(tenant.id, () => dashboards.daily(tenant, r)))
    })
    .get('/v1/metrics/compare', auth, async (c) => {
      const tenant = c.get('tenant')
      const r = range(compareQuery, c.req.query(), tenant.timezone)
      const against = comparisonRange(r, comparisonOf(r), tenant.timezone)
      // previous_year differs from the checked range by a day and an hour at most (29 February, daylight saving).
      if (against.mode === 'custom')
        checkRange(against.from, against.to, MAX_RANGE_DAYS['1d'], 'compare_to - compare_from')
      return c.json(await fair(tenant.id, () => dashboards.compare(tenant, { ...r, against })))
    })
    .get('/v1/metrics/sources', auth, async (c) => {
      const tenant = c.get('tenant')
      const r = range(filteredViewRangeQuery, c.req.query(), tenant.timezone)
      return c.json(await fair(tenant.id, () => dashboards.sources(tenant, r)))
    })
    .get('/v1/activity', auth, (c) => {
      const { limit } = parseQuery(activityQuery, c.req.query())
      return c.json(dashboards.activity(c.get('tenant'), limit))
    })
}
