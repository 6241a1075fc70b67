// QuickBooks Online → orders and costs, for sellers who also sell offline (source `quickbooks`).
// The query API (GET /v3/company/<realm>/query?query=select * from <Entity> where
// Metadata.LastUpdatedTime >= '…' orderby … startposition n maxresults 100) for Invoice and
// SalesReceipt (order.created on TxnDate, order.updated at LastUpdatedTime) and Purchase (an
// expense booked to an advertising or marketing account: a marketing.cost statement restated
// whenever QuickBooks says it was updated). Access tokens last an hour: with refresh_token,
// client_id and client_secret a fresh one is fetched per sync and the rotated refresh token saved.
import { z } from 'zod'
import { refreshAccessToken } from '../oauth.ts'
import type { Source } from '../types.ts'
import { MalformedPage } from '../types.ts'
import { dayStart, iso, parseJson, shapeOf, subDec, sumDec, withId } from '../values.ts'

const config = z
  .object({
    realm_id: z.string().regex(/^\d+$/, 'expected the company (realm) id'),
    access_token: z.string().min(1).optional(),
    refresh_token: z.string().min(1).optional(),
    client_id: z.string().min(1).optional(),
    client_secret: z.string().min(1).optional(),
    api_base_url: z.url().default('https://quickbooks.api.intuit.com'),
    token_url: z.url().default('https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer'),
    minor_version: z.string().regex(/^\d+$/).default('75'),
    /** Expense accounts whose purchases are marketing costs (a regular expression, case-insensitive). */
    marketing_accounts: z.string().min(1).default('advertis|marketing|promotion'),
    backfill_days: z.number().int().min(1).max(3650).default(90),
  })
  .refine(
    (c) => c.access_token || (c.refresh_token && c.client_id && c.client_secret),
    'give access_token, or refresh_token with client_id and client_secret',
  )
type Config = z.infer<typeof config>

const ENTITIES = ['Invoice', 'SalesReceipt', 'Purchase'] as const
const PAGE_SIZE = 100

const ref = z.looseObject({ value: z.string(), name: z.string().optional() })
const meta = z.looseObject({ CreateTime: z.string(), LastUpdatedTime: z.string() })
const line = z.looseObject({
  Amount: z.number().optional(),
  DetailType: z.string(),
  SalesItemLineDetail: z
    .looseObject({ ItemRef: ref.optional(), Qty: z.number().optional(), UnitPrice: z.number().optional() })
    .optional(),
  AccountBasedExpenseLineDetail: z.looseObject({ AccountRef: ref }).optional(),
})
const sale = z.looseObject({
  Id: z.string(),
  TxnDate: z.string().regex(/^\d{4}-\d{2}-\d{2}$/),
  TotalAmt: z.number(),
  Line: z.array(line),
  CustomerRef: ref.optional(),
  CurrencyRef: ref.optional(),
  TxnTaxDetail: z.looseObject({ TotalTax: z.number().optional() }).optional(),
  MetaData: meta,
})
const purchase = z.looseObject({
  Id: z.string(),
  TxnDate: z.string().regex(/^\d{4}-\d{2}-\d{2}$/),
  Line: z.array(line),
  CurrencyRef: ref.optional(),
  MetaData: meta,
})
const queryPage = z.object({
  QueryResponse: z.looseObject({ startPosition: z.number().optional(), maxResults: z.number().optional() }),
})

const SHIPPING_ITEM = 'SHIPPING_ITEM_ID'

export const quickbooks: Source<Config> = {
  type: 'quickbooks',
  source: 'quickbooks',
  config,
  account: (c) => c.realm_id,

  async sync(ctx) {
    let c = ctx.config
    const base = c.api_base_url.replace(/\/$/, '')
    let accessToken = c.access_token
    if (c.refresh_token && c.client_id && c.client_secret) {
      const token = await refreshAccessToken(ctx, {
        url: c.token_url,
        operation: 'token',
        refreshToken: c.refresh_token,
        clientId: c.client_id,
        clientSecret: c.client_secret,
        basicAuth: true,
      })
      accessToken = token.accessToken
      // QuickBooks rotates refresh tokens: the new one replaces the old in the sealed config.
      if (token.refreshToken && token.refreshToken !== c.refresh_token) {
        c = { ...c, refresh_token: token.refreshToken }
        await ctx.updateConfig(c)
      }
    }
    const cursor = (ctx.cursor ?? {}) as Record<string, string>
    const next: Record<string, string> = { ...cursor }
    const start = iso(ctx.now() - c.backfill_days * 86_400_000)
    for (const entity of ENTITIES) {
      const since = cursor[entity] ?? start
      for (let position = 1; ; position += PAGE_SIZE) {
        const query =
          `select * from ${entity} where Metadata.LastUpdatedTime >= '${since}' ` +
          `orderby Metadata.LastUpdatedTime startposition ${position} maxresults ${PAGE_SIZE}`
        const search = new URLSearchParams({ query, minorversion: c.minor_version })
        const res = await ctx.request({
          url: `${base}/v3/company/${c.realm_id}/query?${search}`,
          operation: 'query',
          headers: { authorization: `Bearer ${accessToken}`, accept: 'application/json' },
        })
        const json = (await ctx.page('query', { entity, marketing_accounts: c.marketing_accounts }, res.text)) as
          | { QueryResponse?: Record<string, unknown> }
          | undefined
        const rows = json?.QueryResponse?.[entity]
        const list = Array.isArray(rows) ? (rows as { MetaData?: { LastUpdatedTime?: string } }[]) : []
        for (const r of list) {
          const t = r?.MetaData?.LastUpdatedTime
          if (typeof t === 'string' && (!next[entity] || Date.parse(t) > Date.parse(next[entity]))) next[entity] = t
        }
        if (list.length < PAGE_SIZE) break
      }
    }
    return next
  },

  map(p, ctx) {
    const json = parseJson(p.body)
    shapeOf(queryPage, json, 'QuickBooks query response')
    const entity = String(p.meta.entity)
    const rows = ((json as { QueryResponse: Record<string, unknown> }).QueryResponse[entity] ?? []) as unknown[]
    if (!Array.isArray(rows)) throw new MalformedPage(`QueryResponse.${entity} is not a list`)
    const tz = ctx.tenant.timezone
    if (entity === 'Purchase') {
      const accounts = new RegExp(String(p.meta.marketing_accounts ?? 'advertis|marketing'), 'i')
      return rows.flatMap((row) => {
        const x = shapeOf(purchase, row, 'QuickBooks Purchase')
        const lines = x.Line.filter(
          (l) =>
            l.AccountBasedExpenseLineDetail && accounts.test(l.AccountBasedExpenseLineDetail.AccountRef.name ?? ''),
        )
        if (lines.length === 0) return []
        return [
          withId(`quickbooks:purchase:${x.Id}`, {
            type: 'marketing.cost',
            ts: dayStart(x.TxnDate, tz),
            source: 'quickbooks',
            currency: x.CurrencyRef?.value,
            platform: 'quickbooks',
            campaign_id: `purchase:${x.Id}`,
            amount: sumDec(lines.map((l) => l.Amount ?? 0)),
            period: 'day',
            reported_at: x.MetaData.LastUpdatedTime,
          }),
        ]
      })
    }
    if (entity !== 'Invoice' && entity !== 'SalesReceipt') throw new MalformedPage(`unexpected entity ${entity}`)
    return rows.flatMap((row) => {
      const x = shapeOf(sale, row, `QuickBooks ${entity}`)
      const items = x.Line.filter(
        (l) => l.DetailType === 'SalesItemLineDetail' && l.SalesItemLineDetail?.ItemRef?.value !== SHIPPING_ITEM,
      )
      const shipping = sumDec(
        x.Line.filter((l) => l.SalesItemLineDetail?.ItemRef?.value === SHIPPING_ITEM).map((l) => l.Amount ?? 0),
      )
      const discounts = sumDec(x.Line.filter((l) => l.DetailType === 'DiscountLineDetail').map((l) => l.Amount ?? 0))
      const tax = sumDec([x.TxnTaxDetail?.TotalTax ?? 0])
      const orderId = `${entity === 'Invoice' ? 'inv' : 'sr'}-${x.Id}`
      const fields = {
        source: 'quickbooks',
        currency: x.CurrencyRef?.value,
        order_id: orderId,
        customer_id: x.CustomerRef?.value,
        total: sumDec([x.TotalAmt]),
        subtotal: subDec(subDec(sumDec([x.TotalAmt]), tax), shipping),
        discounts,
        tax,
        shipping,
        items: items.map((l) => ({
          sku: l.SalesItemLineDetail?.ItemRef?.name ?? l.SalesItemLineDetail?.ItemRef?.value ?? 'item',
          product_id: l.SalesItemLineDetail?.ItemRef?.value,
          quantity: Math.round(l.SalesItemLineDetail?.Qty ?? 1),
          price: sumDec([l.SalesItemLineDetail?.UnitPrice ?? l.Amount ?? 0]),
        })),
        channel: 'organic',
      }
      const out = [
        withId(`quickbooks:${orderId}:created`, { type: 'order.created', ts: dayStart(x.TxnDate, tz), ...fields }),
      ]
      if (Date.parse(x.MetaData.LastUpdatedTime) > Date.parse(x.MetaData.CreateTime)) {
        out.push(
          withId(`quickbooks:${orderId}:updated`, { type: 'order.updated', ts: x.MetaData.LastUpdatedTime, ...fields }),
        )
      }
      return out
    })
  },
}
