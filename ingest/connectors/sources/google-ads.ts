// Google Ads API → ad.spend: one GAQL query over `campaign` by `segments.date` through
// POST /<version>/customers/<id>/googleAds:searchStream. The stream answers a JSON array of
// batches; each batch is archived and mapped on its own, so one bad batch is dead-lettered and
// the others count. Cost comes in micros. Statements restate like Meta's (reported_at = poll time).
import { z } from 'zod'
import { refreshAccessToken } from '../oauth.ts'
import { restateWindow } from '../restate.ts'
import type { HttpResponse, Source } from '../types.ts'
import { dayStart, iso, microsToDec, parseJson, shapeOf, withId } from '../values.ts'

const config = z
  .object({
    customer_id: z
      .string()
      .regex(/^\d{3}-?\d{3}-?\d{4}$/, 'expected a 10-digit customer id')
      .transform((id) => id.replace(/-/g, '')),
    developer_token: z.string().min(1),
    /** An OAuth access token; or refresh_token + client_id + client_secret to get one per sync. */
    access_token: z.string().min(1).optional(),
    refresh_token: z.string().min(1).optional(),
    client_id: z.string().min(1).optional(),
    client_secret: z.string().min(1).optional(),
    login_customer_id: z
      .string()
      .regex(/^\d{3}-?\d{3}-?\d{4}$/)
      .transform((id) => id.replace(/-/g, ''))
      .optional(),
    api_base_url: z.url().default('https://googleads.googleapis.com'),
    token_url: z.url().default('https://oauth2.googleapis.com/token'),
    api_version: z
      .string()
      .regex(/^v\d+$/)
      .default('v21'),
    backfill_days: z.number().int().min(1).max(1100).default(30),
    restate_days: z.number().int().min(0).max(90).default(3),
    brand: z.string().min(1).max(200).optional(),
  })
  .refine(
    (c) => c.access_token || (c.refresh_token && c.client_id && c.client_secret),
    'give access_token, or refresh_token with client_id and client_secret',
  )
type Config = z.infer<typeof config>

const int64 = z.union([z.string().regex(/^-?\d+$/), z.number().int()])
const batch = z.looseObject({
  results: z
    .array(
      z.looseObject({
        campaign: z.looseObject({ id: int64 }),
        segments: z.looseObject({ date: z.string().regex(/^\d{4}-\d{2}-\d{2}$/) }),
        metrics: z.looseObject({
          costMicros: int64.optional(),
          impressions: int64.optional(),
          clicks: int64.optional(),
          conversions: z.number().optional(),
          conversionsValue: z.number().optional(),
        }),
        customer: z.looseObject({ currencyCode: z.string().optional() }).optional(),
      }),
    )
    .default([]),
})

export const googleAds: Source<Config> = {
  type: 'google_ads',
  source: 'google_ads',
  config,
  account: (c) => c.customer_id,

  async sync(ctx) {
    const c = ctx.config
    const { since, until } = restateWindow(ctx, c)
    let accessToken = c.access_token
    if (c.refresh_token && c.client_id && c.client_secret) {
      const grant = { refreshToken: c.refresh_token, clientId: c.client_id, clientSecret: c.client_secret }
      accessToken = (await refreshAccessToken(ctx, { url: c.token_url, operation: 'token', ...grant })).accessToken
    }
    const query =
      'SELECT customer.currency_code, campaign.id, campaign.name, segments.date, ' +
      'metrics.cost_micros, metrics.impressions, metrics.clicks, ' +
      'metrics.conversions, metrics.conversions_value ' +
      `FROM campaign WHERE segments.date BETWEEN '${since}' AND '${until}'`
    const headers: Record<string, string> = {
      authorization: `Bearer ${accessToken}`,
      'developer-token': c.developer_token,
      'content-type': 'application/json',
    }
    if (c.login_customer_id) headers['login-customer-id'] = c.login_customer_id
    const res = await ctx.request({
      method: 'POST',
      url: `${c.api_base_url.replace(/\/$/, '')}/${c.api_version}/customers/${c.customer_id}/googleAds:searchStream`,
      operation: 'searchStream',
      headers,
      body: JSON.stringify({ query }),
    })
    const meta = { since, until, customer_id: c.customer_id, brand: c.brand }
    let batches: unknown
    try {
      batches = JSON.parse(res.text)
    } catch {
      batches = undefined
    }
    if (!Array.isArray(batches))
      await ctx.page('searchStream', meta, res.text) // not a stream: dead-lettered whole
    else
      for (const [i, b] of batches.entries()) await ctx.page('searchStream', { ...meta, batch: i }, JSON.stringify(b))
    return { until }
  },

  map(p, ctx) {
    if (p.kind !== 'searchStream') return []
    const body = shapeOf(batch, parseJson(p.body), 'Google Ads searchStream batch')
    const reportedAt = iso(p.receivedAt)
    const brand = typeof p.meta.brand === 'string' ? p.meta.brand : undefined
    return body.results.map((row) => {
      const m = row.metrics
      const fields = {
        type: 'ad.spend',
        ts: dayStart(row.segments.date, ctx.tenant.timezone),
        source: 'google_ads',
        currency: row.customer?.currencyCode,
        platform: 'google',
        campaign_id: String(row.campaign.id),
        brand,
        spend: microsToDec(m.costMicros ?? 0),
        impressions: m.impressions === undefined ? undefined : Number(m.impressions),
        clicks: m.clicks === undefined ? undefined : Number(m.clicks),
        conversions: m.conversions,
        conversion_value: m.conversionsValue === undefined ? undefined : String(m.conversionsValue),
        period: 'day',
        reported_at: reportedAt,
        campaign_name: (row.campaign as { name?: unknown }).name,
      }
      return withId(`google_ads:${row.campaign.id}:${row.segments.date}`, fields)
    })
  },

  /** RESOURCE_EXHAUSTED carries quotaErrorDetails.retryDelay ("30s") in the failure details. */
  retryDelay(res: HttpResponse) {
    const match = /"retryDelay"\s*:\s*"(\d+(?:\.\d+)?)s"/.exec(res.text)
    return match ? Math.ceil(Number(match[1]) * 1000) : undefined
  },
}
