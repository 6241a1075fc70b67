// One order as it stands (GET /v1/orders/:id, docs/metrics.md "One order"), pure: the order
// index's record and attachments in, the answer out. Figures follow the KPI definitions applied to
// this order alone; its share of ad spend splits a campaign's spend of a day across that day's
// attributed orders of the campaign exactly (largest remainder), so the shares add up to the spend.
import { formatMinor } from '../common/money.ts'
import { splitAmount } from '../stream/brand-split.ts'
import type { Attachment, StoredOrder } from '../stream/index.ts'

/** One attributed order of the campaign on the order's day: the weight of its share is its GMV. */
export interface CampaignOrder {
  orderId: string
  gmv: number
}

/** What the order's share of ad spend is read from: its campaign's spend and orders that day. */
export interface CampaignDay {
  campaignId: string
  /** Tenant-local day of the order's window, YYYY-MM-DD. */
  day: string
  /** Σ spend of the standing ad.spend statements of the campaign (any platform) on that day. */
  adSpend: number
  /** The campaign's attributed (non-organic) orders whose window lies on that day, this one included. */
  orders: CampaignOrder[]
}

/**
 * The order's share of the campaign-day's spend: spend × its GMV ÷ the orders' Σ GMV, rounded
 * down, the minor units left over going one each to the largest remainders (ties: the order id
 * first in code-unit order); all GMV 0: equal shares. The shares of one campaign-day sum to the
 * spend exactly.
 */
export function adSpendShare(orderId: string, campaign: CampaignDay): number {
  const weights = new Map(campaign.orders.map((o) => [o.orderId, BigInt(Math.max(0, o.gmv))]))
  if (!weights.has(orderId)) throw new Error(`order ${orderId} is not among its campaign-day's orders`)
  return splitAmount(campaign.adSpend, weights).get(orderId) ?? 0
}

export interface OrderViewInput {
  orderId: string
  order: StoredOrder
  attachments: readonly Attachment[]
  /** The customer's id; null for a guest checkout. */
  customerId: string | null
  currency: string
  digits: number
  /** The order's campaign-day; undefined when the order is not attributed to a campaign. */
  campaign?: CampaignDay
}

const iso = (ms: number) => new Date(ms).toISOString()
const orNull = (text: string) => (text === '' ? null : text)

export function orderView(input: OrderViewInput) {
  const { order, attachments, digits } = input
  const money = (minor: number) => formatMinor(minor, digits)
  const f = order.figures
  const refunds = attachments.filter((a) => a.kind === 'refund')
  const fees = attachments.filter((a) => a.kind === 'fee')
  const cancellation = attachments.find((a) => a.kind === 'cancel')
  const sum = (list: readonly Attachment[], pick: (a: Attachment) => number) => list.reduce((s, a) => s + pick(a), 0)

  const cogs = order.lines.reduce((s, l) => s + l.cogs, 0)
  const netSales = f.subtotal - sum(refunds, (a) => a.subtotal)
  const grossProfit = netSales - cogs
  const feesNet = f.fees - sum(refunds, (a) => a.fees) + sum(fees, (a) => a.fees)
  const adSpend = input.campaign ? adSpendShare(input.orderId, input.campaign) : null
  const netProfit = grossProfit - f.shippingCost - feesNet - (adSpend ?? 0)

  return {
    order_id: input.orderId,
    currency: input.currency,
    customer_id: input.customerId,
    source: order.place.source,
    channel: order.place.channel,
    campaign_id: orNull(order.place.campaign_id),
    city: orNull(order.place.city),
    created_at: iso(order.windowTs),
    updated_at: iso(order.figuresTs),
    created: order.created,
    revisions: order.revisions,
    cancelled: cancellation !== undefined,
    cancelled_at: cancellation ? iso(cancellation.minute) : null,
    lines: order.lines.map((l) => ({
      sku: l.sku,
      brand: orNull(l.brand),
      category: orNull(l.category),
      quantity: l.units,
      revenue: money(l.revenue),
      cogs: money(l.cogs),
    })),
    refunds: refunds.map((a) => ({
      at: iso(a.minute),
      source: a.source,
      amount: money(a.amount),
      subtotal: money(a.subtotal),
      fees: money(a.fees),
    })),
    fees_charged: fees.map((a) => ({ at: iso(a.minute), source: a.source, kind: a.feeKind, amount: money(a.fees) })),
    gmv: money(f.gmv),
    subtotal: money(f.subtotal),
    discounts: money(f.discounts),
    tax: money(f.tax),
    shipping: money(f.shipping),
    refunded: money(sum(refunds, (a) => a.amount)),
    net_sales: money(netSales),
    cogs: money(cogs),
    gross_profit: money(grossProfit),
    shipping_cost: money(f.shippingCost),
    fees: money(feesNet),
    ad_spend: adSpend === null ? null : money(adSpend),
    net_profit: money(netProfit),
    attribution: input.campaign
      ? {
          campaign_id: input.campaign.campaignId,
          day: input.campaign.day,
          campaign_ad_spend: money(input.campaign.adSpend),
          campaign_attributed_revenue: money(sum0(input.campaign.orders)),
          campaign_orders: input.campaign.orders.length,
        }
      : null,
  }
}

const sum0 = (orders: readonly CampaignOrder[]) => orders.reduce((s, o) => s + o.gmv, 0)

export type OrderView = ReturnType<typeof orderView>
