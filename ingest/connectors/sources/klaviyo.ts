// Klaviyo campaign sends → marketing.cost. The metrics list (GET /api/metrics, following
// links.next) gives the ids of "Received Email" and "Received SMS"; Query Metric Aggregates
// (POST /api/metric-aggregates) counts them per day and per message. Each day's count for a
// message is a statement: cost = sends × the tenant's unit cost, reported_at = the poll time.
import { z } from 'zod'
import type { Source } from '../types.ts'
import { rateLimitHeaders } from '../http.ts'
import { restateWindow } from '../restate.ts'
import { addDays, iso, parseJson, shapeOf, withId } from '../values.ts'
import { costOfSends } from './unit-cost.ts'

const config = z.object({
  /** A private API key (pk_...). */
  api_key: z.string().min(1),
  api_base_url: z.url().default('https://a.klaviyo.com'),
  revision: z
    .string()
    .regex(/^\d{4}-\d{2}-\d{2}(\.\w+)?$/)
    .default('2024-10-15'),
  backfill_days: z.number().int().min(1).max(365).default(30),
  restate_days: z.number().int().min(0).max(90).default(3),
})
type Config = z.infer<typeof config>

/** Metric name → the channel its sends are priced as. */
const SEND_METRICS: Record<string, string> = { 'Received Email': 'email', 'Received SMS': 'sms' }

const metricsPage = z.object({
  data: z.array(
    z.looseObject({ type: z.literal('metric'), id: z.string(), attributes: z.looseObject({ name: z.string() }) }),
  ),
  links: z.looseObject({ next: z.string().nullish() }).optional(),
})
const aggregate = z.object({
  data: z.looseObject({
    type: z.literal('metric-aggregate'),
    attributes: z.looseObject({
      dates: z.array(z.string()),
      data: z.array(
        z.looseObject({ dimensions: z.array(z.string()), measurements: z.looseObject({ count: z.array(z.number()) }) }),
      ),
    }),
  }),
})

export const klaviyo: Source<Config> = {
  type: 'klaviyo',
  source: 'klaviyo',
  config,
  account: (c) => `${c.api_key.slice(0, 5)}…`,

  async sync(ctx) {
    const c = ctx.config
    const base = c.api_base_url.replace(/\/$/, '')
    const headers = {
      authorization: `Klaviyo-API-Key ${c.api_key}`,
      revision: c.revision,
      accept: 'application/vnd.api+json',
      'content-type': 'application/vnd.api+json',
    }
    const { since, until } = restateWindow(ctx, c)

    const metricIds = new Map<string, string>()
    let url: string | undefined = `${base}/api/metrics`
    while (url) {
      const res = await ctx.request({ url, operation: 'metrics', headers })
      const json = (await ctx.page('metrics', {}, res.text)) as
        | { data?: { id?: string; attributes?: { name?: string } }[]; links?: { next?: string | null } }
        | undefined
      for (const m of json?.data ?? [])
        if (m?.id && m.attributes?.name && SEND_METRICS[m.attributes.name]) metricIds.set(m.attributes.name, m.id)
      const next = json?.links?.next
      url = typeof next === 'string' && new URL(next).origin === new URL(base).origin ? next : undefined
    }

    for (const [name, metricId] of metricIds) {
      const res = await ctx.request({
        method: 'POST',
        url: `${base}/api/metric-aggregates`,
        operation: 'metric-aggregates',
        headers,
        body: JSON.stringify({
          data: {
            type: 'metric-aggregate',
            attributes: {
              metric_id: metricId,
              measurements: ['count'],
              interval: 'day',
              by: ['$message'],
              filter: [
                `greater-or-equal(datetime,${since}T00:00:00)`,
                `less-than(datetime,${addDays(until, 1)}T00:00:00)`,
              ],
              timezone: ctx.tenant.timezone,
            },
          },
        }),
      })
      await ctx.page('metric-aggregates', { metric: name, channel: SEND_METRICS[name], since, until }, res.text)
    }
    return { until }
  },

  map(p, ctx) {
    if (p.kind === 'metrics') {
      shapeOf(metricsPage, parseJson(p.body), 'Klaviyo metrics page')
      return []
    }
    const body = shapeOf(aggregate, parseJson(p.body), 'Klaviyo metric aggregate')
    const channel = String(p.meta.channel ?? 'email')
    const reportedAt = iso(p.receivedAt)
    const { dates, data } = body.data.attributes
    return data.flatMap((row) => {
      const message = row.dimensions[0] || 'unattributed'
      return row.measurements.count.flatMap((count, i) => {
        const sends = Math.round(count)
        if (sends === 0 || !dates[i]) return []
        const fields = {
          type: 'marketing.cost',
          ts: dates[i],
          source: 'klaviyo',
          platform: 'klaviyo',
          campaign_id: `${channel}:${message}`,
          amount: costOfSends(ctx.settings, 'klaviyo', channel, sends),
          period: 'day',
          reported_at: reportedAt,
          channel,
          sends,
        }
        return [withId(`klaviyo:${channel}:${message}:${dates[i].slice(0, 10)}`, fields)]
      })
    })
  },

  usage: (res) => rateLimitHeaders(res),
}
