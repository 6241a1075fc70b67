// GET /v1/dashboards/cohorts and GET /v1/dashboards/cac (docs/metrics.md, "Cohorts, LTV, CAC and
// payback"). Both read the stream stage's order index, so like RFM they are answered on the node
// owning the tenant's partition: app/forward.ts sends every tenant route there.
import { Hono } from 'hono'
import { z } from 'zod'
import { instant } from '../common/events.ts'
import { registerRoute } from '../common/openapi.ts'
import { type TenantEnv, type TenantRegistry, requireTenant } from '../tenants/index.ts'
import type { CohortViews } from './cohort-views.ts'
import { COHORT_METRICS, COHORT_PERIODS, LTV_HORIZON_DAYS } from './cohorts.ts'
import type { TenantQueues } from './dashboards/tenant-queue.ts'
import { parseQuery } from './params.ts'

const range = {
  as_of: instant.optional().describe('ISO 8601 cut-off: orders, refunds and spend before it count; default now'),
  from: instant
    .optional()
    .describe('Cohorts: every tenant-local period [from, to) touches, whole; default 12 periods up to to'),
  to: instant.optional().describe('Default as_of'),
  by: z.enum(COHORT_PERIODS).default('month').describe('Calendar months, or weeks from Monday, tenant-local'),
}
const flag = z.enum(['true', 'false']).default('false')

export const cohortsQuery = z
  .object({
    ...range,
    metric: z.enum(COHORT_METRICS).default('customers'),
    cumulative: flag.describe('Running sums from period 0 (not for metric=customers)'),
  })
  .refine((q) => !(q.cumulative === 'true' && q.metric === 'customers'), {
    message: 'cumulative=true is not defined for metric=customers: distinct customers do not add up across periods',
    path: ['cumulative'],
  })
export const cacQuery = z.object(range)

const money = z.string().describe('decimal string with the currency’s minor digits')
const header = {
  currency: z.string(),
  timezone: z.string(),
  from: z.string(),
  to: z.string(),
  as_of: z.string(),
  by: z.enum(COHORT_PERIODS),
}
const cohortId = {
  cohort: z.string().describe('2026-01 (month) or the Monday 2026-01-05 (week)'),
  t: z.string().describe('start of the period, with the tenant’s offset'),
}

export const cohortsAnswer = z.object({
  ...header,
  metric: z.enum(COHORT_METRICS),
  cumulative: z.boolean(),
  cohorts: z.array(
    z.object({
      ...cohortId,
      size: z.number().int().describe('customers whose first order lies in this period'),
      periods: z.array(
        z.object({
          period: z.number().int().describe('periods since the cohort’s own (0)'),
          t: z.string(),
          value: z.union([z.number(), money]).describe('count (customers, orders) or money'),
          ltv_revenue: money.nullable().describe('cumulative net sales up to this period ÷ size'),
          ltv_gross_profit: money.nullable().describe('cumulative gross profit up to this period ÷ size'),
        }),
      ),
    }),
  ),
})

const acquisition = {
  new_customers: z.number().int(),
  ad_spend: money,
  marketing_cost: money,
  cac: money.nullable().describe('(ad_spend + marketing_cost) ÷ new_customers'),
  ltv: z.array(
    z.object({
      days: z.number().int(),
      revenue: money.nullable().describe('net sales per customer within `days` of their first order'),
      gross_profit: money.nullable(),
      revenue_to_cac: z.number().nullable(),
      gross_profit_to_cac: z.number().nullable(),
    }),
  ),
  payback_day: z.string().nullable().describe('tenant-local date the cumulative gross profit reached the spend'),
  payback_days: z.number().int().nullable().describe('days from the period’s first day to payback_day'),
}
export const cacAnswer = z.object({
  ...header,
  cohorts: z.array(
    z.object({
      ...cohortId,
      ...acquisition,
      by_channel: z.array(z.object({ channel: z.string(), ...acquisition })),
    }),
  ),
})

registerRoute({
  method: 'get',
  path: '/v1/dashboards/cohorts',
  summary: 'Cohorts: customers by the period of their first order, the retention matrix and LTV per customer',
  description:
    'metric=customers|orders|revenue|gross_profit per period since the cohort’s; cumulative=true gives running sums. ' +
    'First orders are decided at read time from every order (cancelled too; guests are in no cohort).',
  query: cohortsQuery,
  response: cohortsAnswer,
  tags: ['dashboards'],
})
registerRoute({
  method: 'get',
  path: '/v1/dashboards/cac',
  summary: 'CAC, LTV at 30–365 days, LTV ÷ CAC and payback per cohort, blended and per channel',
  description:
    `LTV horizons: ${LTV_HORIZON_DAYS.join(', ')} days. CAC = (ad spend + marketing cost of the period) ÷ new customers; ` +
    'a customer’s channel is that of their first order, spend’s the statements’ platform.',
  query: cacQuery,
  response: cacAnswer,
  tags: ['dashboards'],
})

/** queue: the per-tenant bound on expensive reads (a scan walks every customer in memory). */
export function cohortRoutes(options: { tenants: TenantRegistry; views: CohortViews; queue?: TenantQueues }) {
  const { views } = options
  const fair = <T>(tenant: string, read: () => Promise<T>) => (options.queue ? options.queue.run(tenant, read) : read())
  return new Hono<TenantEnv>()
    .use('/v1/dashboards/cohorts', requireTenant(options.tenants))
    .use('/v1/dashboards/cac', requireTenant(options.tenants))
    .get('/v1/dashboards/cohorts', async (c) => {
      const q = parseQuery(cohortsQuery, c.req.query())
      const tenant = c.get('tenant')
      const params = { ...q, cumulative: q.cumulative === 'true' }
      return c.json(await fair(tenant.id, () => views.cohorts(tenant, params)))
    })
    .get('/v1/dashboards/cac', async (c) => {
      const q = parseQuery(cacQuery, c.req.query())
      const tenant = c.get('tenant')
      return c.json(await fair(tenant.id, () => views.cac(tenant, q)))
    })
}
