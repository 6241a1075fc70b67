// GET /v1/metrics/kpis and /v1/metrics/timeseries (docs/metrics.md).
import { Hono } from 'hono'
import { z } from 'zod'
import { registerRoute } from '../common/openapi.ts'
import type { MetricsReader } from '../clickhouse/index.ts'
import { type TenantEnv, type TenantRegistry, requireTenant } from '../tenants/index.ts'
import { CUSTOMER_GROUP_FIELDS, kpisOf, zeroMeasures } from '../stream/index.ts'
import type { TenantQueues } from './dashboards/tenant-queue.ts'
import {
  MAX_RANGE_DAYS,
  checkRange,
  filterParams,
  parseQuery,
  rangeParams,
  resolveRange,
  rollupFilter,
} from './params.ts'

const metricNames = Object.keys(kpisOf(zeroMeasures(), 2, 'transaction_date')) as [string, ...string[]]
const kpisParams = rangeParams.extend(filterParams)
const timeseriesParams = kpisParams.extend({ metric: z.enum(metricNames), interval: z.enum(['1m', '1h', '1d']) })

const figure = z.union([z.string(), z.number(), z.null()])
export const kpisAnswer = z
  .object({
    currency: z.string(),
    timezone: z.string(),
    from: z.string(),
    to: z.string(),
    as_of: z.string(),
    view: z.string(),
    ...Object.fromEntries(metricNames.map((m) => [m, figure])),
    // New, returning and guest figures (docs/metrics.md): in the total only, not a timeseries metric.
    ...Object.fromEntries(CUSTOMER_GROUP_FIELDS.map((m) => [m, figure])),
  })
  .extend({
    by_channel: z.record(z.string(), z.record(z.string(), figure)),
    by_source: z.record(z.string(), z.record(z.string(), figure)),
    by_store: z.record(z.string(), z.record(z.string(), figure)).describe("Per store ('' for events without one)"),
    freshness: z.record(
      z.string(),
      z.object({ latest_event_at: z.string(), watermark: z.string(), late_events: z.number() }),
    ),
  })
  .loose()
export const timeseriesAnswer = z.array(z.object({ t: z.string(), value: figure }))
registerRoute({
  method: 'get',
  path: '/v1/metrics/kpis',
  summary:
    'The KPIs over [from, to) with by_channel, by_source, by_store and freshness (docs/metrics.md, "KPIs"); ' +
    'brand= and store= narrow every figure',
  query: kpisParams,
  response: kpisAnswer,
})
registerRoute({
  method: 'get',
  path: '/v1/metrics/timeseries',
  summary: 'One KPI per bin over [from, to), empty bins included; at most 2 days at 1m, 92 at 1h, 732 at 1d',
  query: timeseriesParams,
  response: timeseriesAnswer,
})

export interface MetricsRoutesOptions {
  tenants: TenantRegistry
  reader: MetricsReader
  now: () => number
  /** Per-tenant bound on these reads; without it they run at once. */
  queue?: TenantQueues
}

export function metricsRoutes(options: MetricsRoutesOptions) {
  const { reader, now } = options
  const fair = <T>(tenant: string, read: () => Promise<T>) => (options.queue ? options.queue.run(tenant, read) : read())
  return new Hono<TenantEnv>()
    .use('/v1/metrics/*', requireTenant(options.tenants))
    .get('/v1/metrics/kpis', async (c) => {
      const tenant = c.get('tenant')
      const p = parseQuery(kpisParams, c.req.query())
      const range = resolveRange(p, tenant.timezone, now())
      // No range bound: KPIs are sums over hourly rollups, as cheap for a lifetime as for a year.
      return c.json(await fair(tenant.id, () => reader.kpis(tenant, { ...range, view: p.view, ...rollupFilter(p) })))
    })
    .get('/v1/metrics/timeseries', async (c) => {
      const tenant = c.get('tenant')
      const p = parseQuery(timeseriesParams, c.req.query())
      const { from, to } = resolveRange(p, tenant.timezone, now())
      checkRange(from, to, MAX_RANGE_DAYS[p.interval], `to - from at interval=${p.interval}`)
      const range = { from, to, view: p.view, interval: p.interval, ...rollupFilter(p) }
      const points = await fair(tenant.id, () => reader.timeseries(tenant, range))
      const metric = p.metric as keyof (typeof points)[number]['kpis']
      return c.json(points.map(({ t, kpis }) => ({ t, value: kpis[metric] })))
    })
}
