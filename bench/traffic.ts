// Synthetic shop traffic shared by the benches. It is seeded, so every run measures the same bodies,
// and shaped like a store's webhooks: ~60 % new orders (1–4 items), edits of earlier orders,
// refunds, and ad platforms restating the same campaign-hour again and again (replacement deltas).
import { formatMinor } from '../common/money.ts'

export interface TrafficEvent {
  tenant: string
  id: string
  type: string
  body: string
}

export interface Traffic {
  events: TrafficEvent[]
  /** Distinct orders created: what `orders` in the KPIs must reach. */
  orders: number
  /** [from, to) covering every event's ts. */
  from: number
  to: number
}

const SPREAD_MS = 3_600_000
const CAMPAIGNS = 8
const iso = (ms: number) => new Date(ms).toISOString()

function mulberry32(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export function makeTraffic(n: number, options: { tenants: string[]; seed?: number; end?: number }): Traffic {
  const rand = mulberry32(options.seed ?? 42)
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]
  const money = (cents: number) => formatMinor(cents, 2)
  const start = Math.floor(((options.end ?? Date.now()) - SPREAD_MS) / 60_000) * 60_000
  const created: { tenant: string; orderId: string; channel: string }[] = []
  const events: TrafficEvent[] = []
  let from = Infinity
  let to = -Infinity

  const orderFigures = () => {
    const items = Array.from({ length: 1 + Math.floor(rand() * 4) }, () => ({
      sku: `sku-${Math.floor(rand() * 500)}`,
      quantity: 1 + Math.floor(rand() * 3),
      price: money(500 + Math.floor(rand() * 15_000)),
    }))
    const subtotal = items.reduce((sum, item) => sum + item.quantity * Math.round(Number(item.price) * 100), 0)
    const discounts = rand() < 0.25 ? Math.round(subtotal * 0.1) : 0
    const tax = Math.round((subtotal - discounts) * 0.08)
    const shipping = subtotal > 5_000 ? 0 : 499
    return {
      total: money(subtotal - discounts + tax + shipping),
      subtotal: money(subtotal),
      discounts: money(discounts),
      tax: money(tax),
      shipping: money(shipping),
      items,
    }
  }

  for (let i = 0; i < n; i++) {
    const ts = start + Math.floor((i * SPREAD_MS) / n)
    const id = `ev-${i}`
    const r = rand()
    let tenant: string
    let body: Record<string, unknown>
    if (r < 0.6 || created.length === 0) {
      tenant = pick(options.tenants)
      const order = { tenant, orderId: `ord-${i}`, channel: pick(['organic', 'google', 'meta', 'email']) }
      created.push(order)
      body = {
        type: 'order.created',
        id,
        ts: iso(ts),
        source: 'shopify',
        order_id: order.orderId,
        customer_id: `cus-${Math.floor(rand() * 20_000)}`,
        channel: order.channel,
        ...orderFigures(),
      }
    } else if (r < 0.8) {
      const order = pick(created)
      tenant = order.tenant
      body = {
        type: 'order.updated',
        id,
        ts: iso(ts),
        source: 'shopify',
        order_id: order.orderId,
        channel: order.channel,
        ...orderFigures(),
      }
    } else if (r < 0.9) {
      const order = pick(created)
      tenant = order.tenant
      body = {
        type: 'refund.created',
        id,
        ts: iso(ts),
        source: 'shopify',
        order_id: order.orderId,
        refund_id: `ref-${i}`,
        amount: money(500 + Math.floor(rand() * 5_000)),
      }
    } else {
      tenant = pick(options.tenants)
      const hour = ts - (ts % 3_600_000)
      const platform = pick(['google', 'meta'])
      body = {
        type: 'ad.spend',
        id,
        ts: iso(hour),
        source: `${platform}-ads`,
        platform,
        campaign_id: `cmp-${Math.floor(rand() * CAMPAIGNS)}`,
        period: 'hour',
        spend: money(Math.floor(rand() * 100_000)),
        clicks: Math.floor(rand() * 900),
        reported_at: iso(ts),
      }
    }
    const eventTs = Date.parse(body.ts as string)
    from = Math.min(from, eventTs)
    to = Math.max(to, eventTs + 1)
    events.push({ tenant, id, type: body.type as string, body: JSON.stringify(body) })
  }
  return { events, orders: created.length, from, to }
}
