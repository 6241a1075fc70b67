// Walmart Marketplace orders → orders, cancellations and refunds (source `walmart`). A token from
// POST /v3/token (client credentials), then GET /v3/orders by lastModifiedStartDate, following
// list.meta.nextCursor (a query string appended to /v3/orders). A purchase order becomes
// order.created at orderDate (and order.updated at its latest line status date), cancelled when
// every line is, and each line's refund a refund.created. Usage headers: x-current-token-count
// and x-next-replenish-time.
import { randomUUID } from 'node:crypto'
import { z } from 'zod'
import type { HttpResponse, Source } from '../types.ts'
import { absDec, divDec, iso, parseJson, shapeOf, sumDec, withId } from '../values.ts'

const config = z.object({
  client_id: z.string().min(1),
  client_secret: z.string().min(1),
  api_base_url: z.url().default('https://marketplace.walmartapis.com'),
  /** WM_CONSUMER.CHANNEL.TYPE, when Walmart gave one at onboarding. */
  consumer_channel_type: z.string().min(1).optional(),
  backfill_days: z.number().int().min(1).max(180).default(30),
})
type Config = z.infer<typeof config>

const value = z.looseObject({
  currency: z.string().optional(),
  amount: z.union([z.number(), z.string().regex(/^-?\d+(\.\d+)?$/)]),
})
const charge = z.looseObject({
  chargeType: z.string(),
  chargeAmount: value,
  tax: z.looseObject({ taxAmount: value }).nullish(),
})
const line = z.looseObject({
  lineNumber: z.string(),
  item: z.looseObject({ sku: z.string().min(1), productName: z.string().optional() }),
  charges: z.looseObject({ charge: z.array(charge) }),
  orderLineQuantity: z.looseObject({ amount: z.string().regex(/^\d+$/) }),
  statusDate: z.number().optional(),
  orderLineStatuses: z.looseObject({ orderLineStatus: z.array(z.looseObject({ status: z.string() })) }),
  refund: z
    .looseObject({
      refundId: z.string().nullish(),
      refundCharges: z.looseObject({ refundCharge: z.array(z.looseObject({ charge })) }),
    })
    .nullish(),
})
const order = z.looseObject({
  purchaseOrderId: z.string().min(1),
  customerOrderId: z.string().optional(),
  customerEmailId: z.string().optional(),
  orderDate: z.number(),
  shippingInfo: z.looseObject({ postalAddress: z.looseObject({ city: z.string().optional() }).optional() }).optional(),
  orderLines: z.looseObject({ orderLine: z.array(line) }),
})
const page = z.object({
  list: z.looseObject({
    meta: z.looseObject({ nextCursor: z.string().nullish() }),
    elements: z.looseObject({ order: z.array(order).default([]) }),
  }),
})

const amountOf = (v: z.infer<typeof value>) => (typeof v.amount === 'number' ? v.amount : v.amount)

export const walmart: Source<Config> = {
  type: 'walmart',
  source: 'walmart',
  config,
  account: (c) => c.client_id.slice(0, 8),

  async sync(ctx) {
    const c = ctx.config
    const base = c.api_base_url.replace(/\/$/, '')
    const common = (): Record<string, string> => {
      const h: Record<string, string> = {
        'WM_SVC.NAME': 'Walmart Marketplace',
        'WM_QOS.CORRELATION_ID': randomUUID(),
        accept: 'application/json',
      }
      if (c.consumer_channel_type) h['WM_CONSUMER.CHANNEL.TYPE'] = c.consumer_channel_type
      return h
    }
    const token = await ctx.request({
      method: 'POST',
      url: `${base}/v3/token`,
      operation: 'token',
      headers: {
        ...common(),
        authorization: `Basic ${Buffer.from(`${c.client_id}:${c.client_secret}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: 'grant_type=client_credentials',
    })
    const accessToken = (JSON.parse(token.text) as { access_token: string }).access_token
    const cursor = ctx.cursor as { last_modified_after?: string } | undefined
    const syncStart = ctx.now()
    const since = cursor?.last_modified_after ?? iso(syncStart - c.backfill_days * 86_400_000)
    let url: string | undefined =
      `${base}/v3/orders?${new URLSearchParams({ lastModifiedStartDate: since, limit: '100', productInfo: 'false' })}`
    while (url) {
      const res = await ctx.request({
        url,
        operation: 'orders',
        headers: { ...common(), 'WM_SEC.ACCESS_TOKEN': accessToken },
      })
      const json = (await ctx.page('orders', {}, res.text)) as
        | { list?: { meta?: { nextCursor?: unknown } } }
        | undefined
      const next = json?.list?.meta?.nextCursor
      url =
        typeof next === 'string' && next !== ''
          ? `${base}/v3/orders${next.startsWith('?') ? next : `?${next}`}`
          : undefined
    }
    // Read again from a little before this sync started: ids make the overlap harmless.
    return { last_modified_after: iso(syncStart - 10 * 60_000) }
  },

  map(p) {
    const body = shapeOf(page, parseJson(p.body), 'Walmart orders page')
    return body.list.elements.order.flatMap((o) => {
      const lines = o.orderLines.orderLine
      const charges = lines.flatMap((l) => l.charges.charge)
      const of = (type: string) => charges.filter((ch) => ch.chargeType === type).map((ch) => amountOf(ch.chargeAmount))
      const subtotal = sumDec(of('PRODUCT'))
      const shipping = sumDec(of('SHIPPING'))
      const tax = sumDec(charges.filter((ch) => ch.tax).map((ch) => amountOf(ch.tax!.taxAmount)))
      const currency = charges[0]?.chargeAmount.currency
      const fields = {
        source: 'walmart',
        currency,
        order_id: o.purchaseOrderId,
        customer_id: o.customerEmailId,
        total: sumDec([subtotal, shipping, tax]),
        subtotal,
        tax,
        shipping,
        items: lines.map((l) => {
          const quantity = Number(l.orderLineQuantity.amount)
          const price = sumDec(
            l.charges.charge.filter((ch) => ch.chargeType === 'PRODUCT').map((ch) => amountOf(ch.chargeAmount)),
          )
          return { sku: l.item.sku, quantity, price: divDec(price, quantity) }
        }),
        channel: 'organic',
        location: o.shippingInfo?.postalAddress?.city ? { city: o.shippingInfo.postalAddress.city } : undefined,
      }
      const out = [
        withId(`walmart:${o.purchaseOrderId}:created`, { type: 'order.created', ts: o.orderDate, ...fields }),
      ]
      const updatedAt = Math.max(...lines.map((l) => l.statusDate ?? 0))
      if (updatedAt > o.orderDate)
        out.push(withId(`walmart:${o.purchaseOrderId}:updated`, { type: 'order.updated', ts: updatedAt, ...fields }))
      const statuses = lines.flatMap((l) => l.orderLineStatuses.orderLineStatus.map((s) => s.status.toLowerCase()))
      if (statuses.length > 0 && statuses.every((s) => s === 'cancelled' || s === 'canceled')) {
        out.push(
          withId(`walmart:${o.purchaseOrderId}:cancelled`, {
            type: 'order.cancelled',
            ts: Math.max(updatedAt, o.orderDate),
            source: 'walmart',
            order_id: o.purchaseOrderId,
          }),
        )
      }
      for (const l of lines) {
        if (!l.refund) continue
        const refunded = l.refund.refundCharges.refundCharge.map((r) => r.charge)
        const merchandise = absDec(
          sumDec(refunded.filter((ch) => ch.chargeType === 'PRODUCT').map((ch) => amountOf(ch.chargeAmount))),
        )
        const amount = absDec(
          sumDec([
            ...refunded.map((ch) => amountOf(ch.chargeAmount)),
            ...refunded.filter((ch) => ch.tax).map((ch) => amountOf(ch.tax!.taxAmount)),
          ]),
        )
        const refundId = l.refund.refundId ?? `${o.purchaseOrderId}:${l.lineNumber}`
        out.push(
          withId(`walmart:refund:${refundId}:${l.lineNumber}`, {
            type: 'refund.created',
            ts: l.statusDate ?? o.orderDate,
            source: 'walmart',
            currency,
            order_id: o.purchaseOrderId,
            refund_id: `${refundId}:${l.lineNumber}`,
            amount,
            subtotal: merchandise,
          }),
        )
      }
      return out
    })
  },

  /** When the token bucket is empty, wait for x-next-replenish-time (epoch ms). */
  usage(res: HttpResponse, _operation: string, _memo: Map<string, unknown>, now: number) {
    const left = res.headers.get('x-current-token-count')
    const next = Number(res.headers.get('x-next-replenish-time'))
    if (left === null || Number(left) > 0 || !next) return undefined
    return Math.max(0, next - now)
  },
}
