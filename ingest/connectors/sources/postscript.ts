// Postscript SMS campaign sends → marketing.cost. GET /api/v2/campaigns (Bearer API key), page
// by page (`page`, `limit`) until a short page. A sent campaign's message count is a statement
// for its send day: cost = messages × the tenant's unit cost (`postscript_sms`, `postscript`, or
// `sms`), reported_at = the poll time, so later polls restate growing counts.
// Postscript's public reference documents subscribers and custom events well but not campaign
// statistics; the fields read here (id, name, status, send_time, messages_sent) are the ones its
// campaign export shows, and the mapping rejects a page without them (dead letter), never guesses.
import { z } from 'zod'
import type { Source } from '../types.ts'
import { rateLimitHeaders } from '../http.ts'
import { restateWindow } from '../restate.ts'
import { dayOf, dayStart, iso, parseJson, shapeOf, withId } from '../values.ts'
import { costOfSends } from './unit-cost.ts'

const config = z.object({
  api_key: z.string().min(1),
  api_base_url: z.url().default('https://api.postscript.io'),
  backfill_days: z.number().int().min(1).max(365).default(30),
  restate_days: z.number().int().min(0).max(90).default(3),
})
type Config = z.infer<typeof config>

const PAGE_SIZE = 100

const page = z.object({
  campaigns: z.array(
    z.looseObject({
      id: z.union([z.string().min(1), z.number().int()]),
      name: z.string().optional(),
      status: z.string(),
      send_time: z.string().nullish(),
      messages_sent: z.number().int().nonnegative().nullish(),
      message_type: z.string().nullish(),
    }),
  ),
})

export const postscript: Source<Config> = {
  type: 'postscript',
  source: 'postscript',
  config,
  account: (c) => `${c.api_key.slice(0, 5)}…`,

  async sync(ctx) {
    const c = ctx.config
    const base = c.api_base_url.replace(/\/$/, '')
    const { since, until } = restateWindow(ctx, c)
    for (let n = 1; ; n++) {
      const res = await ctx.request({
        url: `${base}/api/v2/campaigns?${new URLSearchParams({ page: String(n), limit: String(PAGE_SIZE) })}`,
        operation: 'campaigns',
        headers: { authorization: `Bearer ${c.api_key}`, accept: 'application/json' },
      })
      const json = (await ctx.page('campaigns', { since, until }, res.text)) as { campaigns?: unknown[] } | undefined
      if (!Array.isArray(json?.campaigns) || json.campaigns.length < PAGE_SIZE) break
    }
    return { until }
  },

  map(p, ctx) {
    const body = shapeOf(page, parseJson(p.body), 'Postscript campaigns page')
    const since = String(p.meta.since ?? '0000-00-00')
    const reportedAt = iso(p.receivedAt)
    return body.campaigns.flatMap((campaign) => {
      if (!campaign.send_time || !campaign.messages_sent || !/^(sent|sending|completed)$/i.test(campaign.status))
        return []
      const sentAt = Date.parse(campaign.send_time)
      if (Number.isNaN(sentAt)) return []
      const day = dayOf(sentAt, ctx.tenant.timezone)
      if (day < since) return []
      const channel = (campaign.message_type ?? 'sms').toLowerCase() === 'mms' ? 'mms' : 'sms'
      return [
        withId(`postscript:${campaign.id}:${day}`, {
          type: 'marketing.cost',
          ts: dayStart(day, ctx.tenant.timezone),
          source: 'postscript',
          platform: 'postscript',
          campaign_id: String(campaign.id),
          amount: costOfSends(ctx.settings, 'postscript', channel, campaign.messages_sent),
          period: 'day',
          reported_at: reportedAt,
          channel,
          sends: campaign.messages_sent,
        }),
      ]
    })
  },

  usage: (res) => rateLimitHeaders(res),
}
