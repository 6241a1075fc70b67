// Meta Marketing API insights → ad.spend. One row per campaign, day and publisher platform
// (facebook, instagram, ...), so ROAS pairs with orders won by each: GET
// /<version>/act_<id>/insights?level=campaign&time_increment=1&breakdowns=publisher_platform,
// following paging.next. Each poll restates the days it reads (Meta settles spend and purchases
// for days): every row is a statement with its own id and reported_at = the poll's receipt time.
import { z } from 'zod'
import { restateWindow } from '../restate.ts'
import type { HttpResponse, Source } from '../types.ts'
import { dayStart, iso, parseJson, shapeOf, withId } from '../values.ts'

const config = z.object({
  account_id: z.string().regex(/^act_\d+$/, 'expected act_<ad account id>'),
  access_token: z.string().min(1),
  api_base_url: z.url().default('https://graph.facebook.com'),
  api_version: z
    .string()
    .regex(/^v\d+\.\d+$/)
    .default('v21.0'),
  /** Days read on the first sync. */
  backfill_days: z.number().int().min(1).max(1100).default(30),
  /** Days read again on each later sync: Meta restates recent days. */
  restate_days: z.number().int().min(0).max(90).default(3),
  /** An agency's brand for this ad account. */
  brand: z.string().min(1).max(200).optional(),
})
type Config = z.infer<typeof config>

const FIELDS = [
  'campaign_id',
  'campaign_name',
  'spend',
  'impressions',
  'clicks',
  'actions',
  'action_values',
  'account_currency',
  'date_start',
  'date_stop',
]
/** Meta reports the same purchases under several action types; the first present wins. */
const PURCHASE_TYPES = ['omni_purchase', 'purchase', 'offsite_conversion.fb_pixel_purchase']

const numeric = z.union([z.string().regex(/^-?\d+(\.\d+)?$/), z.number()])
const action = z.object({ action_type: z.string(), value: numeric })
const page = z.object({
  data: z.array(
    z.looseObject({
      campaign_id: z.string().min(1),
      date_start: z.string().regex(/^\d{4}-\d{2}-\d{2}$/),
      spend: numeric.optional(),
      impressions: numeric.optional(),
      clicks: numeric.optional(),
      actions: z.array(action).optional(),
      action_values: z.array(action).optional(),
      account_currency: z.string().optional(),
      publisher_platform: z.string().optional(),
    }),
  ),
  paging: z.looseObject({ next: z.string().optional() }).optional(),
})

const purchase = (list: z.infer<typeof action>[] | undefined) =>
  PURCHASE_TYPES.map((t) => list?.find((a) => a.action_type === t)).find(Boolean)?.value
const platformOf = (p: string | undefined) => (p ?? 'facebook').toLowerCase().replace(/[^a-z0-9_-]/g, '_') || 'facebook'
const int = (v: string | number | undefined) => (v === undefined ? undefined : Math.round(Number(v)))

export const metaAds: Source<Config> = {
  type: 'meta_ads',
  source: 'meta_ads',
  config,
  account: (c) => c.account_id,

  async sync(ctx) {
    const c = ctx.config
    const { since, until } = restateWindow(ctx, c)
    const base = new URL(c.api_base_url)
    const params = new URLSearchParams({
      level: 'campaign',
      time_increment: '1',
      breakdowns: 'publisher_platform',
      fields: FIELDS.join(','),
      time_range: JSON.stringify({ since, until }),
      limit: '100',
      access_token: c.access_token,
    })
    let url: string | undefined =
      `${c.api_base_url.replace(/\/$/, '')}/${c.api_version}/${c.account_id}/insights?${params}`
    while (url) {
      const res = await ctx.request({ url, operation: 'insights' })
      const json = (await ctx.page('insights', { since, until, account_id: c.account_id, brand: c.brand }, res.text)) as
        | { paging?: { next?: unknown } }
        | undefined
      const next = json?.paging?.next
      // paging.next carries the token: follow it only to the API we were configured with.
      url = typeof next === 'string' && new URL(next).origin === base.origin ? next : undefined
    }
    return { until }
  },

  map(p, ctx) {
    if (p.kind !== 'insights') return []
    const body = shapeOf(page, parseJson(p.body), 'Meta insights page')
    const reportedAt = iso(p.receivedAt)
    const brand = typeof p.meta.brand === 'string' ? p.meta.brand : undefined
    return body.data.map((row) => {
      const platform = platformOf(row.publisher_platform)
      const fields = {
        type: 'ad.spend',
        ts: dayStart(row.date_start, ctx.tenant.timezone),
        source: 'meta_ads',
        currency: row.account_currency,
        platform,
        campaign_id: row.campaign_id,
        brand,
        spend: String(row.spend ?? '0'),
        impressions: int(row.impressions),
        clicks: int(row.clicks),
        conversions: purchase(row.actions) === undefined ? undefined : Number(purchase(row.actions)),
        conversion_value: purchase(row.action_values) === undefined ? undefined : String(purchase(row.action_values)),
        period: 'day',
        reported_at: reportedAt,
        campaign_name: row.campaign_name,
      }
      return withId(`meta_ads:${row.campaign_id}:${platform}:${row.date_start}`, fields)
    })
  },

  /**
   * Meta's usage headers: X-Business-Use-Case-Usage (per business and type, with
   * estimated_time_to_regain_access in minutes) and X-Ad-Account-Usage / X-App-Usage (percent).
   */
  usage(res: HttpResponse) {
    let waitMs = 0
    const buc = safeJson(res.headers.get('x-business-use-case-usage'))
    for (const entries of Object.values((buc ?? {}) as Record<string, unknown>)) {
      for (const e of Array.isArray(entries) ? entries : []) {
        const minutes = Number(
          (e as { estimated_time_to_regain_access?: unknown }).estimated_time_to_regain_access ?? 0,
        )
        const pct = Math.max(
          ...['call_count', 'total_cputime', 'total_time'].map((k) => Number((e as Record<string, unknown>)[k] ?? 0)),
        )
        if (minutes > 0) waitMs = Math.max(waitMs, minutes * 60_000)
        else if (pct >= 95) waitMs = Math.max(waitMs, 60_000)
      }
    }
    const account = safeJson(res.headers.get('x-ad-account-usage')) as
      | { acc_id_util_pct?: number; reset_time_duration?: number }
      | undefined
    if (account && Number(account.acc_id_util_pct) >= 95)
      waitMs = Math.max(waitMs, Number(account.reset_time_duration ?? 60) * 1000)
    return waitMs || undefined
  },
}

function safeJson(text: string | null): unknown {
  if (!text) return undefined
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}
