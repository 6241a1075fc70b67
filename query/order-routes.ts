// GET /v1/orders/:id: one order as it stands (docs/metrics.md "One order"), read from the stream
// stage's in-memory order index and standing ad statements. Like every tenant route, a node that
// does not own the tenant's partition passes the request to the one that does (app/forward.ts),
// so the answer always comes from the state that holds the order.
import { Hono } from 'hono'
import { z } from 'zod'
import { notFound } from '../common/errors.ts'
import { currencyDigits } from '../common/money.ts'
import { registerRoute } from '../common/openapi.ts'
import { type OrderIndex, type Statement, get, localDay, localDayRange } from '../stream/index.ts'
import { type TenantEnv, type TenantRef, type TenantRegistry, requireTenant } from '../tenants/index.ts'
import { type CampaignDay, type CampaignOrder, orderView } from './order-view.ts'

/** What the route reads of the processor (stream/processor.ts). */
export interface OrderSource {
  orders(tenant: string): OrderIndex
  customers(tenant: string): { idAt(index: number): string }
  statements(tenant: string): ReadonlyMap<string, Statement>
}

const money = z.string().describe('decimal string with the currency’s minor digits')
const instantText = z.string().describe('ISO 8601, UTC')
export const orderResponse = z.object({
  order_id: z.string(),
  currency: z.string(),
  customer_id: z.string().nullable().describe('null: a guest checkout'),
  source: z.string(),
  channel: z.string(),
  campaign_id: z.string().nullable(),
  city: z.string().nullable(),
  created_at: instantText.describe('The order’s window: its order.created time, else its earliest edit’s'),
  updated_at: instantText.describe('Event time of the standing revision (the newest by ts)'),
  created: z.boolean().describe('Whether an order.created was seen'),
  revisions: z.number().int().describe('order.created and order.updated events applied'),
  cancelled: z.boolean(),
  cancelled_at: instantText.nullable().describe('The minute of the cancellation'),
  lines: z.array(
    z.object({
      sku: z.string(),
      brand: z.string().nullable(),
      category: z.string().nullable(),
      quantity: z.number().int(),
      revenue: money.describe('price × quantity'),
      cogs: money,
    }),
  ),
  refunds: z.array(
    z.object({
      at: instantText.describe('its minute'),
      source: z.string(),
      amount: money,
      subtotal: money,
      fees: money,
    }),
  ),
  fees_charged: z.array(
    z.object({ at: instantText.describe('its minute'), source: z.string(), kind: z.string(), amount: money }),
  ),
  gmv: money,
  subtotal: money,
  discounts: money,
  tax: money,
  shipping: money,
  refunded: money.describe('Σ refund amount'),
  net_sales: money.describe('subtotal − Σ refund subtotal'),
  cogs: money,
  gross_profit: money.describe('net_sales − cogs'),
  shipping_cost: money,
  fees: money.describe('order fees − Σ refund fees + Σ fee.charged of the order'),
  ad_spend: money
    .nullable()
    .describe('Its share of its campaign’s ad spend that day; null: not attributed to a campaign'),
  net_profit: money.describe('gross_profit − shipping_cost − fees − ad_spend'),
  attribution: z
    .object({
      campaign_id: z.string(),
      day: z.string().describe('Tenant-local day of the order’s window'),
      campaign_ad_spend: money,
      campaign_attributed_revenue: money,
      campaign_orders: z.number().int(),
    })
    .nullable(),
})

registerRoute({
  method: 'get',
  path: '/v1/orders/:id',
  summary: 'One order as it stands: lines, revisions, refunds, fees, cancellation, and its profit',
  response: orderResponse,
  errors: { 404: 'No order with this id' },
  tags: ['orders'],
})

/**
 * The campaign-day of an attributed order: the standing ad.spend statements of its campaign whose
 * minute lies on the tenant-local day of the order's window, and the campaign's attributed orders
 * of that day. undefined for an organic order or one without a campaign.
 */
export function campaignDayOf(source: OrderSource, tenant: TenantRef, slot: number): CampaignDay | undefined {
  const orders = source.orders(tenant.id)
  const place = orders.placeOf(slot)
  if (place.channel === 'organic' || place.campaign_id === '') return undefined
  const day = localDay(orders.windowTs(slot), tenant.timezone)
  const [from, to] = localDayRange(day, tenant.timezone)
  let adSpend = 0
  for (const { delta } of source.statements(tenant.id).values())
    if (delta.campaign_id === place.campaign_id && delta.minute >= from && delta.minute < to)
      adSpend += get(delta.values, 'ad_spend')
  const campaignOrders: CampaignOrder[] = []
  orders.forEachOrderIn(from, to, (other) => {
    const p = orders.placeOf(other)
    if (p.campaign_id === place.campaign_id && p.channel !== 'organic')
      campaignOrders.push({ orderId: orders.idAt(other), gmv: orders.gmv(other) })
  })
  return { campaignId: place.campaign_id, day, adSpend, orders: campaignOrders }
}

export function orderRoutes(options: { tenants: TenantRegistry; source: OrderSource }) {
  const { source } = options
  return new Hono<TenantEnv>().use('/v1/orders/*', requireTenant(options.tenants)).get('/v1/orders/:id', (c) => {
    const tenant = c.get('tenant')
    const id = c.req.param('id')
    // One synchronous read: the consumer cannot apply an event between its parts.
    const orders = source.orders(tenant.id)
    const slot = orders.find(id)
    if (slot < 0) throw notFound(`no order ${id}`)
    const order = orders.get(slot)
    return c.json(
      orderView({
        orderId: id,
        order,
        attachments: orders.attachments(slot),
        customerId: order.customer < 0 ? null : source.customers(tenant.id).idAt(order.customer),
        currency: tenant.currency,
        digits: currencyDigits(tenant.currency),
        campaign: campaignDayOf(source, tenant, slot),
      }),
    )
  })
}
