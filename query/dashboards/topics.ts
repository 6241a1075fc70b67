// Live topic sources of the dashboards: `activity`, `dashboard:overview`, `dashboard:ads`,
// `dashboard:profit`, `dashboard:funnel`. Each snapshot and update is the object the matching
// route answers, by default for today (the tenant-local day up to now). Filters, as in the routes
// (strict: an unknown one is refused): `from`, `to` everywhere, `view` on profit, `brand` on ads,
// `limit` on activity. A range covers at most MAX_RANGE_DAYS['1d'] (732) days, as over HTTP.
import type { z } from 'zod'
import type { TenantRef } from '../../tenants/index.ts'
import { HttpError } from '../../common/errors.ts'
import { MAX_RANGE_DAYS, parseQuery, rangeTooWide, resolveRange } from '../params.ts'
import { activityQuery, adsQuery, rangeQuery, viewRangeQuery } from './schemas.ts'
import type { Dashboards } from './service.ts'

/** What the live publisher hands a source besides the tenant id (both optional). */
export interface TopicContext {
  now?: number
  params?: Record<string, string>
  /** Runs the expensive part in the tenant's turn (the per-tenant bound); arguments are checked before. */
  inTurn?: <T>(compute: () => Promise<T>) => Promise<T>
}

export type DashboardTopicSource = (tenantId: string, request?: TopicContext) => Promise<unknown>

export interface DashboardTopicsOptions {
  dashboards: Dashboards
  tenantOf: (id: string) => Promise<TenantRef>
  now: () => number
  /** The publisher's own error for a bad filter (push's TopicError('bad_topic', …)). */
  badTopic?: (message: string) => Error
}

export function dashboardTopics(options: DashboardTopicsOptions): Record<string, DashboardTopicSource> {
  const { dashboards, tenantOf } = options
  const badTopic = options.badTopic ?? ((message: string) => new Error(message))

  /** Parses filters strictly; a bad one becomes the publisher's bad-topic error. */
  function filters<S extends z.ZodObject>(schema: S, request: TopicContext | undefined): z.infer<S> {
    try {
      return parseQuery(schema.strict(), request?.params ?? {}) as z.infer<S>
    } catch (err) {
      throw err instanceof HttpError ? badTopic(err.message) : err
    }
  }

  function ranged<S extends z.ZodObject>(schema: S, tenant: TenantRef, request: TopicContext | undefined) {
    const p = filters(schema, request) as z.infer<S> & { from?: number; to?: number }
    const asOf = request?.now ?? options.now()
    let r: ReturnType<typeof resolveRange>
    try {
      r = resolveRange({ from: p.from, to: p.to, as_of: asOf }, tenant.timezone, asOf)
    } catch (err) {
      throw err instanceof HttpError ? badTopic(err.message) : err
    }
    // Refused at subscribe: a wide topic is recomputed on every change of the tenant, for as long as it is watched.
    const tooWide = rangeTooWide(r.from, r.to, MAX_RANGE_DAYS['1d'], "the topic's to - from")
    if (tooWide) throw badTopic(tooWide)
    return { ...p, ...r }
  }

  // A topic stands for the instant it is computed: no as_of filter.
  const range = rangeQuery.omit({ as_of: true })
  const viewRange = viewRangeQuery.omit({ as_of: true })
  const ads = adsQuery.omit({ as_of: true })

  const inTurn = <T>(request: TopicContext | undefined, compute: () => Promise<T>) =>
    request?.inTurn ? request.inTurn(compute) : compute()

  return {
    activity: async (id, request) => {
      const { limit } = filters(activityQuery, request)
      return dashboards.activity(await tenantOf(id), limit)
    },
    'dashboard:overview': async (id, request) => {
      const tenant = await tenantOf(id)
      const r = ranged(range, tenant, request)
      return inTurn(request, () => dashboards.overview(tenant, r))
    },
    'dashboard:ads': async (id, request) => {
      const tenant = await tenantOf(id)
      const r = ranged(ads, tenant, request)
      return inTurn(request, () => dashboards.ads(tenant, r))
    },
    'dashboard:profit': async (id, request) => {
      const tenant = await tenantOf(id)
      const r = ranged(viewRange, tenant, request)
      return inTurn(request, () => dashboards.profit(tenant, r))
    },
    'dashboard:funnel': async (id, request) => {
      const tenant = await tenantOf(id)
      const r = ranged(range, tenant, request)
      return inTurn(request, () => dashboards.funnel(tenant, r))
    },
  }
}
