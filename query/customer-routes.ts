// GET /v1/dashboards/rfm, GET /v1/customers/:id and GET /v1/dashboards/intent (docs/metrics.md),
// and the live topics `dashboard:rfm` and `dashboard:intent` that carry the same answers.
import { Hono } from 'hono'
import { z } from 'zod'
import { notFound } from '../common/errors.ts'
import { instant } from '../common/events.ts'
import { registerRoute } from '../common/openapi.ts'
import { type TenantEnv, type TenantRef, type TenantRegistry, requireTenant } from '../tenants/index.ts'
import type { CustomerViews } from './customer-views.ts'
import { LEVELS } from './intent.ts'
import type { TenantQueues } from './dashboards/tenant-queue.ts'
import { parseQuery } from './params.ts'
import { SEGMENTS, VALUE_BUCKET_LABELS } from './rfm.ts'

const score = z.enum(['1', '2', '3', '4', '5']).transform(Number)
/**
 * One of the dashboard's own bucket labels. A `+` sent unencoded in a query string arrives as a
 * space (`1000+` → `1000 `), so a trailing space is read as the `+` it was.
 */
const bucketLabel = (labels: readonly string[], what: string) =>
  z
    .string()
    .max(20)
    .transform((text, ctx) => {
      const label = text.endsWith(' ') ? `${text.slice(0, -1)}+` : text
      if (labels.includes(label)) return label
      ctx.addIssue({ code: 'custom', message: `expected one of ${labels.join(', ')}` })
      return z.NEVER
    })
    .meta({ override: { type: 'string', enum: [...labels] } })
    .describe(`Only customers in this bucket of ${what}`)
const asOf = instant.optional().describe('ISO 8601 cut-off; default now')

const rfmFilters = {
  from: instant.optional().describe('Only orders with ts ≥ from count'),
  to: instant.optional().describe('Only orders with ts < to count'),
  customer_id: z
    .string()
    .min(1)
    .max(200)
    .optional()
    .describe('The answer restricted to this customer; ranking stays over all'),
  r: score.optional().describe('Only customers with this R score'),
  f: score.optional().describe('Only customers with this F score'),
  m: score.optional().describe('Only customers with this M score'),
  segment: z.enum(SEGMENTS).optional().describe('Only customers of this segment'),
  r_value_bucket: bucketLabel(VALUE_BUCKET_LABELS.r_value_bucket, 'r_value_bucket_data (recency days)').optional(),
  f_value_bucket: bucketLabel(VALUE_BUCKET_LABELS.f_value_bucket, 'visits_data (orders)').optional(),
  m_value_bucket: bucketLabel(VALUE_BUCKET_LABELS.m_value_bucket, 'value_data (monetary, major units)').optional(),
}
const rangeInOrder = (q: { from?: number; to?: number }) => q.from === undefined || q.to === undefined || q.from < q.to
const inOrder = { message: 'from must be before to', path: ['to'] }
export const rfmQuery = z.object({ as_of: asOf, ...rfmFilters }).refine(rangeInOrder, inOrder)

const intentFilters = {
  category: z.string().min(1).max(200).optional().describe('Only high-intent users of this category in the list'),
  page: z.coerce.number().int().min(1).max(1_000_000).default(1),
  page_size: z.coerce.number().int().min(1).max(500).default(50),
}
export const intentQuery = z.object({ as_of: asOf, ...intentFilters })
const customerQuery = z.object({ as_of: asOf })

const money = z.string().describe('decimal string with the currency’s minor digits')
const buckets = z.array(z.object({ label: z.string(), count: z.number().int() }))
export const rfmResponse = z.object({
  currency: z.string(),
  as_of: z.string(),
  from: z.string().nullable(),
  to: z.string().nullable(),
  filters: z.object({
    customer_id: z.string().nullable(),
    r: z.number().nullable(),
    f: z.number().nullable(),
    m: z.number().nullable(),
    segment: z.enum(SEGMENTS).nullable(),
    r_value_bucket: z.string().nullable(),
    f_value_bucket: z.string().nullable(),
    m_value_bucket: z.string().nullable(),
  }),
  kpi: z.object({
    total_customer: z.number().int(),
    unit_per_transaction: z.number().nullable(),
    profit_per_customer: money.nullable(),
    customer_spending: money,
    days_to_return: z.number().nullable(),
    retention_rate: z.number().nullable().describe('percentage 0–100'),
  }),
  r_score_data: buckets,
  f_score_data: buckets,
  m_score_data: buckets,
  r_value_bucket_data: buckets,
  visits_data: buckets,
  value_data: buckets,
  segment_data: buckets,
  days_to_return_bucket_data: buckets,
  fiscal_year_data: z
    .array(
      z.object({
        label: z.string().describe('FY2025-26 (a year starting in January: FY2026)'),
        new_customers: z.number().int().describe('customers whose first order falls in this fiscal year'),
        old_customers: z.number().int().describe('customers with an earlier first order who ordered in this year'),
        new_pct: z.number().nullable().describe('percentage 0–100 of the year’s customers'),
        old_pct: z.number().nullable().describe('percentage 0–100 of the year’s customers'),
      }),
    )
    .describe('per fiscal year (settings: fiscal_year_start_month), in the tenant’s time zone'),
})
export const customerResponse = z.object({
  customer_id: z.string(),
  currency: z.string(),
  as_of: z.string(),
  recency_days: z.number().int().nullable(),
  frequency: z.number().int(),
  monetary: money,
  r: z.number().int().nullable(),
  f: z.number().int().nullable(),
  m: z.number().int().nullable(),
  segment: z.enum(SEGMENTS).nullable(),
  intent_level: z.enum(LEVELS),
  intent_score: z.number(),
  intent_category: z.string().nullable(),
  intent_exact: z
    .boolean()
    .describe(
      'false when events the customer made after as_of may be in the score: ' +
        'only the 8 newest shopper events of a customer are kept one by one, ' +
        'older ones are folded into one decayed score',
    ),
  events: z.number().int(),
  location: z.string().nullable(),
  first_order_at: z.string().nullable(),
  last_order_at: z.string().nullable(),
  gross_profit: money,
})
export const intentResponse = z.object({
  currency: z.string(),
  as_of: z.string(),
  thresholds: z.object({ high: z.number(), medium: z.number(), half_life_hours: z.number() }),
  approximate_customers: z
    .number()
    .int()
    .describe('tracked customers whose reading at as_of is not exact (intent_exact false)'),
  users_tracked: z.number().int(),
  users_by_level: z.object({ high: z.number().int(), medium: z.number().int(), low: z.number().int() }),
  high_intent_users: z.object({
    category: z.string().nullable(),
    page: z.number().int(),
    page_size: z.number().int(),
    total: z.number().int(),
    users: z.array(
      z.object({
        customer_id: z.string(),
        category: z.string().nullable(),
        score: z.number(),
        events: z.number().int(),
        location: z.string().nullable(),
        orders: z.number().int(),
        estimated_spend: money.nullable(),
      }),
    ),
  }),
  revenue_opportunity: z.array(
    z.object({ category: z.string().nullable(), users: z.number().int(), estimated_spend: money }),
  ),
})

registerRoute({
  method: 'get',
  path: '/v1/dashboards/rfm',
  summary: 'Campaign (RFM) dashboard: scores by rank, segments, KPIs and buckets',
  query: rfmQuery,
  response: rfmResponse,
  tags: ['dashboards'],
})
registerRoute({
  method: 'get',
  path: '/v1/customers/:id',
  summary: 'One customer: RFM ranked over all customers as of as_of, and intent',
  query: customerQuery,
  response: customerResponse,
  errors: { 404: 'No event ever named this customer' },
  tags: ['customers'],
})
registerRoute({
  method: 'get',
  path: '/v1/dashboards/intent',
  summary: 'Intent dashboard: users by level, the high-intent users (paged), revenue opportunity by category',
  query: intentQuery,
  response: intentResponse,
  tags: ['dashboards'],
})

type RfmQuery = z.infer<typeof rfmQuery>

const rfmParams = (q: RfmQuery) => ({
  as_of: q.as_of,
  from: q.from,
  to: q.to,
  customerId: q.customer_id,
  r: q.r,
  f: q.f,
  m: q.m,
  segment: q.segment,
  rValueBucket: q.r_value_bucket,
  fValueBucket: q.f_value_bucket,
  mValueBucket: q.m_value_bucket,
})

/** queue: the per-tenant bound on expensive reads (RFM and intent walk every customer in memory). */
export function customerRoutes(options: { tenants: TenantRegistry; views: CustomerViews; queue?: TenantQueues }) {
  const { views } = options
  const fair = <T>(tenant: string, read: () => Promise<T>) => (options.queue ? options.queue.run(tenant, read) : read())
  return new Hono<TenantEnv>()
    .use('/v1/dashboards/rfm', requireTenant(options.tenants))
    .use('/v1/dashboards/intent', requireTenant(options.tenants))
    .use('/v1/customers/*', requireTenant(options.tenants))
    .get('/v1/dashboards/rfm', async (c) => {
      const params = rfmParams(parseQuery(rfmQuery, c.req.query()))
      return c.json(await fair(c.get('tenant').id, () => views.rfm(c.get('tenant'), params)))
    })
    .get('/v1/dashboards/intent', async (c) => {
      const params = parseQuery(intentQuery, c.req.query())
      return c.json(await fair(c.get('tenant').id, () => views.intent(c.get('tenant'), params)))
    })
    .get('/v1/customers/:id', async (c) => {
      const id = c.req.param('id')
      const answer = await views.customer(c.get('tenant'), id, parseQuery(customerQuery, c.req.query()).as_of)
      if (!answer) throw notFound(`no customer ${id}`)
      return c.json(answer)
    })
}

const rfmTopicFilters = z.object(rfmFilters).strict().refine(rangeInOrder, inOrder)
const intentTopicFilters = z.object(intentFilters).strict()

/** What a topic source gets from the live publisher (push/live-publisher.ts `TopicRequest`). */
interface TopicRequest {
  name: string
  params: Record<string, string>
  /** Runs the expensive part in the tenant's turn (the per-tenant bound); filters are checked before. */
  inTurn?: <T>(compute: () => Promise<T>) => Promise<T>
}

export interface CustomerTopicsOptions {
  views: CustomerViews
  tenantOf: (id: string) => Promise<TenantRef>
  /** The publisher's error for bad filters (push's `TopicError('bad_topic', …)`). */
  badTopic: (message: string) => Error
}

/**
 * Live topics, as of now (at the bounded cadence of customer-analytics.ts):
 * `dashboard:rfm[?from=&to=&customer_id=&r=&f=&m=&segment=&r_value_bucket=&f_value_bucket=&m_value_bucket=]` and
 * `dashboard:intent[?category=&page=&page_size=]`, each the HTTP answer for the same filters.
 */
export function customerTopics(options: CustomerTopicsOptions) {
  const { views, tenantOf, badTopic } = options
  function filters<S extends z.ZodType>(schema: S, request: TopicRequest): z.infer<S> {
    const parsed = schema.safeParse(request.params)
    if (!parsed.success) {
      const issues = parsed.error.issues.map((i) => `${i.path.join('.') || 'filter'}: ${i.message}`).join('; ')
      throw badTopic(`bad filters for ${request.name}: ${issues}`)
    }
    return parsed.data
  }
  const inTurn = <T>(request: TopicRequest, compute: () => Promise<T>) =>
    request.inTurn ? request.inTurn(compute) : compute()
  return {
    'dashboard:rfm': async (id: string, request: TopicRequest) => {
      const params = rfmParams({ as_of: undefined, ...filters(rfmTopicFilters, request) })
      const tenant = await tenantOf(id)
      return inTurn(request, () => views.rfm(tenant, params))
    },
    'dashboard:intent': async (id: string, request: TopicRequest) => {
      const params = filters(intentTopicFilters, request)
      const tenant = await tenantOf(id)
      return inTurn(request, () => views.intent(tenant, params))
    },
  }
}
