// The topic sources this stage provides: `kpis`, `timeseries:<metric>:<interval>` and `alerts`.
// app/main.ts spreads them into the publisher's registry beside the dashboards' own sources.
import { DateTime } from 'luxon'
import { z } from 'zod'
import { instant } from '../common/events.ts'
import type { MetricsReader } from '../clickhouse/index.ts'
import type { TenantRef } from '../tenants/index.ts'
import { kpisOf, startOfLocalDay, zeroMeasures } from '../stream/index.ts'
import type { TopicRequest, TopicSource } from './live-publisher.ts'
import { TopicError } from './topic.ts'
import { MAX_RANGE_DAYS, rangeTooWide } from '../common/ranges.ts'

/** Parses a topic's filters (strict: an unknown filter is an error) or throws a `bad_topic` TopicError. */
export function topicParams<S extends z.ZodType>(schema: S, request: TopicRequest): z.infer<S> {
  const parsed = schema.safeParse(request.params)
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || 'filter'}: ${i.message}`).join('; ')
    throw new TopicError('bad_topic', `bad filters for ${request.name}: ${issues}`)
  }
  return parsed.data
}

/** [from, to) of a topic's `from`/`to` filters; by default the tenant-local day up to now. */
export function topicRange(
  p: { from?: number; to?: number },
  tenant: TenantRef,
  now: number,
  maxDays: number = MAX_RANGE_DAYS['1d'],
): { from: number; to: number } {
  const from = p.from ?? startOfLocalDay(now, tenant.timezone)
  const to = p.to ?? now
  if (from >= to) throw new TopicError('bad_topic', 'from must be before to')
  const tooWide = rangeTooWide(from, to, maxDays, "the topic's to - from")
  if (tooWide) throw new TopicError('bad_topic', tooWide)
  return { from, to }
}

const rangeFilters = z
  .object({
    view: z.enum(['transaction_date', 'order_date']).default('transaction_date'),
    from: instant.optional(),
    to: instant.optional(),
  })
  .strict()

const seriesFilters = rangeFilters.extend({ last: z.coerce.number().int().min(1).max(10_000).optional() }).strict()

/** The first bin of the `last` n bins up to now: a window that moves with the clock. */
function lastBins(n: number, interval: '1m' | '1h' | '1d', timezone: string, now: number): number {
  if (interval === '1d')
    return DateTime.fromMillis(now, { zone: timezone })
      .startOf('day')
      .minus({ days: n - 1 })
      .toMillis()
  const step = interval === '1m' ? 60_000 : 3_600_000
  return Math.floor(now / step) * step - (n - 1) * step
}

const metricNames = Object.keys(kpisOf(zeroMeasures(), 2, 'transaction_date')) as [string, ...string[]]
const seriesArgs = z.tuple([z.enum(metricNames), z.enum(['1m', '1h', '1d'])])

/** The expensive part of a source, in its tenant's turn when the publisher gives one. */
export const inTurn = <T>(request: { inTurn?: TopicRequest['inTurn'] } | undefined, compute: () => Promise<T>) =>
  request?.inTurn ? request.inTurn(compute) : compute()

export function standardTopics(options: {
  tenantOf: (id: string) => Promise<TenantRef>
  reader: MetricsReader
}): Record<string, TopicSource> {
  const { tenantOf, reader } = options
  return {
    /** `kpis[?view=&from=&to=]`: the `GET /v1/metrics/kpis` answer, by default for today. */
    kpis: async (id, request) => {
      const tenant = await tenantOf(id)
      const p = topicParams(rangeFilters, request)
      // KPIs are sums over hourly rollups whatever the range: lifetime figures are a fair question.
      const range = { asOf: request.now, ...topicRange(p, tenant, request.now, Number.POSITIVE_INFINITY), view: p.view }
      return inTurn(request, () => reader.kpis(tenant, range))
    },
    /**
     * `timeseries:<metric>:<interval>[?view=&from=&to=|?last=n]`: `[{t, value}]` as `GET /v1/metrics/timeseries`, by
     * default today; `last=n`: the last n bins up to now.
     */
    timeseries: async (id, request) => {
      const args = seriesArgs.safeParse(request.args)
      if (!args.success)
        throw new TopicError(
          'bad_topic',
          `expected timeseries:<metric>:<interval> with a KPI name and 1m, 1h or 1d; got ${request.topic}`,
        )
      const [metric, interval] = args.data
      const tenant = await tenantOf(id)
      const p = topicParams(seriesFilters, request)
      if (p.last !== undefined && p.from !== undefined)
        throw new TopicError('bad_topic', 'give either last or from, not both')
      const first = p.last === undefined ? p.from : lastBins(p.last, interval, tenant.timezone, request.now)
      const { from, to } = topicRange({ ...p, from: first }, tenant, request.now, MAX_RANGE_DAYS[interval])
      const points = await inTurn(request, () => reader.timeseries(tenant, { from, to, view: p.view, interval }))
      return points.map(({ t, kpis }) => ({ t, value: kpis[metric as keyof typeof kpis] }))
    },
    /** `alerts`: firing alerts, newest first; empty here, app/main.ts puts the alert engine's list in its place. */
    alerts: async () => [],
  }
}
