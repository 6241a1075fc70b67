// The data set of test/integration/dashboards.test.ts: 427 tenant-local days of orders, edits,
// refunds and cancellations (some days later, some before their order), restated ad spend and
// marketing statements, and shopper events, generated from a seeded PRNG so that it is the same
// on every run. Events are listed in the order they are posted (arrival order): phase A roughly by
// event time, then a tail of late arrivals (edits, restatements, stale reports, late refunds and
// cancellations, orders from the past).
import { DateTime } from 'luxon'

export const TZ = 'America/New_York'
export const START = DateTime.fromISO('2024-07-01', { zone: TZ }).toMillis()
export const DAYS = 427
export const END = DateTime.fromISO('2024-07-01', { zone: TZ }).plus({ days: DAYS }).toMillis()
const MIN = 60_000
const HOUR = 3_600_000
const DAY = 86_400_000

/** Uploaded through POST /v1/settings/sku-costs before any event: wins over items' own cost. */
export const SKU_COST = { sku: 'sku-07', cost: '4.25' }
export const DEFAULT_COGS_RATE = 0.35
export const MONTHLY_RETAINER = '1500.00'

export type Ev = Record<string, any> & { id: string; type: string; ts: number; source: string }

function mulberry32(seed: number) {
  let a = seed
  return () => {
    a |= 0
    a = (a + 0x6d2b79f5) | 0
    let t = Math.imul(a ^ (a >>> 15), 1 | a)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const dollars = (cents: number) => `${Math.floor(cents / 100)}.${String(cents % 100).padStart(2, '0')}`

export function generate(seed = 20250901): { phaseA: Ev[]; tail: Ev[] } {
  const rnd = mulberry32(seed)
  const int = (lo: number, hi: number) => lo + Math.floor(rnd() * (hi - lo + 1))
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]
  const chance = (p: number) => rnd() < p
  // What the ad platforms report beside spend draws from its own sequence, so the rest of the data
  // set stays as it was.
  const rndAd = mulberry32(seed ^ 0x5eed)
  const adInt = (lo: number, hi: number) => lo + Math.floor(rndAd() * (hi - lo + 1))
  const adChance = (p: number) => rndAd() < p
  const dayStart = (d: number) => DateTime.fromMillis(START, { zone: TZ }).plus({ days: d }).toMillis()

  const brands = ['nike', 'adidas', 'puma', 'lakme', 'amul']
  const categories = ['footwear', 'apparel', 'beauty', 'groceries']
  const skus = Array.from({ length: 20 }, (_, i) => ({
    sku: `sku-${String(i).padStart(2, '0')}`,
    brand: i >= 18 ? undefined : brands[i % brands.length],
    category: i === 17 || i === 19 ? undefined : categories[i % categories.length],
    price: 500 + ((i * 3779) % 11_500),
    cost: i % 3 === 0 ? 150 + ((i * 997) % 2_000) : undefined,
  }))
  const cities = ['Mumbai', 'Delhi', 'Bangalore', 'Pune', 'Chennai']
  const campaignsOf: Record<string, string[]> = {
    facebook: ['fb-1', 'fb-2'],
    instagram: ['ig-1'],
    google: ['g-1', 'g-2'],
    tiktok: ['tt-1'],
  }
  const statementsOf = [
    { platform: 'facebook', campaign: 'fb-1', brand: 'nike', source: 'meta_ads' },
    { platform: 'facebook', campaign: 'fb-2', brand: 'adidas', source: 'meta_ads' },
    { platform: 'instagram', campaign: 'ig-1', brand: 'lakme', source: 'meta_ads' },
    { platform: 'google', campaign: 'g-1', brand: 'nike', source: 'google_ads' },
    { platform: 'google', campaign: 'g-2', brand: undefined, source: 'google_ads' },
    { platform: 'pinterest', campaign: 'pin-1', brand: 'puma', source: 'custom' },
  ]

  // [arrival, seq, event]: sorted by arrival time, then by generation order.
  const a: [number, number, Ev][] = []
  const tail: Ev[] = []
  let seq = 0
  let n = 0
  const nextId = (prefix: string) => `${prefix}-${++n}`
  const arrive = (at: number, e: Ev) => a.push([at, seq++, e])

  const customers = Array.from({ length: 1500 }, (_, i) => `c-${String(i + 1).padStart(4, '0')}`)
  const shopper = (type: string, customer: string, ts: number, category?: string) =>
    arrive(ts, {
      id: nextId('s'),
      type,
      ts,
      source: 'shopify',
      customer_id: customer,
      ...(category ? { category } : {}),
      ...(chance(0.5) ? { product_id: `p-${int(1, 40)}` } : {}),
    })

  // Background browsing, within [START, END).
  for (const c of customers)
    for (let k = int(2, 6); k > 0; k--)
      shopper(
        pick(['product.viewed', 'search', 'product.viewed']),
        c,
        START + int(0, DAYS * 24 * 60 - 1) * MIN + int(0, 59) * 1000,
        pick(categories),
      )

  interface OrderGen {
    ev: Ev
    lines: { sku: string; quantity: number }[]
  }
  const orders: OrderGen[] = []

  function orderEvent(
    type: string,
    id: string,
    ts: number,
    base: Record<string, any> & {
      source: string
      lines: { sku: string; quantity: number; withCost?: boolean }[]
      discountPct: number
      shippingCost?: number
    },
  ): Ev {
    const items = base.lines.map((l) => {
      const s = skus.find((x) => x.sku === l.sku)!
      const item: Record<string, unknown> = {
        sku: s.sku,
        quantity: l.quantity,
        price: chance(0.2) ? s.price / 100 : dollars(s.price),
      }
      if (s.brand) item.brand = s.brand
      if (s.category) item.category = s.category
      if (s.cost !== undefined) item.cost = dollars(s.cost)
      if (l.withCost) item.cost = '9.99'
      return item
    })
    const itemsCents = base.lines.reduce((sum, l) => sum + skus.find((x) => x.sku === l.sku)!.price * l.quantity, 0)
    const discounts = Math.floor((itemsCents * base.discountPct) / 100)
    const subtotal = itemsCents - discounts
    const tax = Math.round((subtotal * 825) / 10_000)
    const shipping = subtotal > 5_000 ? 0 : 599
    const { lines: _l, discountPct: _d, shippingCost, ...rest } = base
    return {
      id,
      type,
      ts,
      ...rest,
      total: dollars(subtotal + tax + shipping),
      subtotal: dollars(subtotal),
      discounts: dollars(discounts),
      tax: dollars(tax),
      shipping: dollars(shipping),
      ...(shippingCost !== undefined ? { shipping_cost: dollars(shippingCost) } : {}),
      items,
    }
  }

  // Orders, each with its shopper lead-up; refunds and cancellations some days later.
  for (let d = 0; d < DAYS; d++) {
    for (let k = int(8, 17); k > 0; k--) {
      const ts = dayStart(d) + int(60, 23 * 60 + 50) * MIN + int(0, 59) * 1000
      const guest = chance(0.1)
      const customer = guest ? undefined : pick(customers)
      const channel = pick([
        'organic',
        'organic',
        'organic',
        'facebook',
        'facebook',
        'instagram',
        'google',
        'google',
        'tiktok',
      ])
      const campaign = channel === 'organic' || chance(0.2) ? undefined : pick(campaignsOf[channel])
      const lines = Array.from({ length: int(1, 3) }, () => {
        const sku = pick(skus).sku
        return { sku, quantity: int(1, 3), withCost: sku === SKU_COST.sku && chance(0.5) }
      })
      const where = chance(0.1) ? undefined : chance(0.3) ? { city: pick(cities) } : pick(cities)
      const orderId = nextId('o')
      const ev = orderEvent('order.created', `e-${orderId}`, ts, {
        source: pick(['shopify', 'shopify', 'shopify', 'amazon', 'woocommerce']),
        order_id: orderId,
        ...(customer ? { customer_id: customer } : {}),
        channel,
        ...(campaign ? { campaign_id: campaign } : {}),
        ...(where ? { location: where } : {}),
        lines,
        discountPct: chance(0.2) ? 10 : 0,
        shippingCost: chance(0.5) ? int(200, 700) : undefined,
      })
      if (customer) {
        const category = skus.find((s) => s.sku === lines[0].sku)!.category
        if (chance(0.25)) for (const m of [31, 21, 11]) shopper('checkout.started', customer, ts - m * MIN, category)
        else {
          if (chance(0.5)) shopper('product.viewed', customer, ts - 41 * MIN, category)
          if (chance(0.3)) shopper('cart.added', customer, ts - 26 * MIN, category)
        }
      }
      arrive(ts, ev)
      orders.push({ ev, lines })
    }
  }

  // High-intent shoppers on the last day, without orders (high-intent users at END).
  for (let i = 0; i < 25; i++) {
    const c = customers[i * 7]
    for (const m of [90, 70, 50]) shopper('checkout.started', c, END - m * MIN, 'beauty')
  }

  // Refunds (a refund_id each; some repeated later under another event id) and cancellations.
  let refundNo = 0
  const refundOf = (o: Ev, ts: number) => {
    const total = Math.round(Number(o.total) * 100)
    const amount = int(1, total)
    const subtotal = chance(0.6) ? Math.min(amount, Math.round(Number(o.subtotal) * 100)) : undefined
    return {
      id: nextId('r'),
      type: 'refund.created',
      ts,
      source: chance(0.1) ? 'custom' : o.source,
      order_id: o.order_id,
      refund_id: `rf-${++refundNo}`,
      amount: dollars(amount),
      ...(subtotal !== undefined ? { subtotal: dollars(subtotal) } : {}),
    }
  }
  for (const { ev } of orders) {
    if (chance(0.08)) {
      const r = refundOf(ev, ev.ts + int(1, 10) * DAY + int(0, 3_600) * 1000)
      if (chance(0.5)) arrive(r.ts, r)
      else tail.push(r)
      if (chance(0.07)) tail.push({ ...r, id: nextId('r-dup'), amount: '1.00' })
    }
    if (chance(0.04)) {
      const c = {
        id: nextId('x'),
        type: 'order.cancelled',
        ts: ev.ts + int(0, 5) * DAY + int(60, 7_200) * 1000,
        source: ev.source,
        order_id: ev.order_id,
      }
      if (chance(0.5)) arrive(c.ts, c)
      else tail.push(c)
    }
  }

  // Edits: the newest by event time stands; a stale edit (older ts) arriving later changes nothing.
  for (let i = 0; i < 320; i++) {
    const { ev, lines } = orders[int(0, orders.length - 1)]
    const base = {
      source: ev.source,
      order_id: ev.order_id,
      ...(ev.customer_id ? { customer_id: ev.customer_id } : {}),
      channel: ev.channel,
      ...(ev.campaign_id ? { campaign_id: ev.campaign_id } : {}),
      ...(ev.location ? { location: ev.location } : {}),
    }
    const edited = lines.map((l, j) => ({ ...l, quantity: j === 0 ? l.quantity + 1 : l.quantity }))
    const later = orderEvent('order.updated', nextId('u'), ev.ts + 3 * HOUR + i * 1000, {
      ...base,
      lines: edited,
      discountPct: 0,
    })
    tail.push(later)
    if (i % 16 === 0)
      tail.push(
        orderEvent('order.updated', nextId('u-stale'), ev.ts + HOUR, {
          ...base,
          lines: [{ sku: 'sku-01', quantity: 9 }],
          discountPct: 0,
        }),
      )
  }

  // Guest orders from the past that arrive last, some of whose refunds arrived before them.
  for (let i = 0; i < 40; i++) {
    const ts = dayStart(int(0, DAYS - 1)) + int(60, 1_380) * MIN
    const orderId = nextId('late-o')
    const channel = pick(['facebook', 'google', 'organic'])
    const ev = orderEvent('order.created', `e-${orderId}`, ts, {
      source: 'woocommerce',
      order_id: orderId,
      channel,
      ...(channel === 'facebook' ? { campaign_id: 'fb-1' } : {}),
      location: pick(cities),
      lines: [{ sku: pick(skus).sku, quantity: int(1, 2) }],
      discountPct: 0,
    })
    if (i % 2 === 0) arrive(ts + 2 * DAY, refundOf(ev, ts + 2 * DAY))
    if (i % 5 === 0)
      arrive(ts + DAY, {
        id: nextId('x'),
        type: 'order.cancelled',
        ts: ts + DAY,
        source: 'woocommerce',
        order_id: orderId,
      })
    tail.push(ev)
  }

  /**
   * Impressions, clicks, conversions (some fractional) and conversion value (some with digits to
   * round) of one statement, and now and then the campaign's name (renamed over time). pin-1
   * reports neither impressions nor conversions, g-2 no clicks; some statements report zero.
   */
  const platformReport = (campaign: string, clicks: number) => {
    const value = adInt(0, 400_000)
    const conversions = adChance(0.3) ? adInt(0, 40_000) / 1000 : adChance(0.5) ? adInt(0, 12) / 4 : adInt(0, 60)
    return {
      ...(campaign === 'pin-1' ? {} : { impressions: adChance(0.05) ? 0 : adInt(1_000, 200_000) }),
      ...(campaign === 'g-2' ? {} : { clicks: adChance(0.05) ? 0 : clicks }),
      ...(campaign === 'pin-1' || adChance(0.05) ? {} : { conversions }),
      ...(campaign === 'pin-1' || adChance(0.05)
        ? {}
        : {
            conversion_value: adChance(0.1)
              ? `${dollars(value)}${['5', '49', '5001'][adInt(0, 2)]}`
              : adChance(0.2)
                ? value / 100
                : dollars(value),
          }),
      ...(adChance(0.2)
        ? { campaign_name: `${campaign} ${['Spring', 'Summer', 'Retargeting', 'Brand'][adInt(0, 3)]}` }
        : {}),
    }
  }

  // Ad spend statements per day and campaign; some restated later, some stale, some tied.
  for (let d = 0; d < DAYS; d++) {
    for (const s of statementsOf) {
      if (!chance(0.9)) continue
      const ts = dayStart(d)
      const spend = (cents: number) =>
        chance(0.1)
          ? `${dollars(cents)}${pick(['5', '49', '5001', '678'])}`
          : chance(0.2)
            ? cents / 100
            : dollars(cents)
      const statement = (reportedAt: number, prefix = 'ad') => ({
        id: nextId(prefix),
        type: 'ad.spend',
        ts,
        source: s.source,
        platform: s.platform,
        campaign_id: s.campaign,
        ...(s.brand ? { brand: s.brand } : {}),
        spend: spend(int(1_000, 30_000)),
        reported_at: reportedAt,
        period: 'day',
        ...platformReport(s.campaign, int(10, 900)),
      })
      arrive(ts + 23 * HOUR, statement(ts + 23 * HOUR))
      if (chance(0.25)) tail.push(statement(ts + 2 * DAY, 'ad-restated'))
      if (chance(0.03)) tail.push(statement(ts + 12 * HOUR, 'ad-stale'))
      if (chance(0.02)) tail.push(statement(ts + 23 * HOUR, 'ad-tie'))
    }
    const ts = dayStart(d)
    if (chance(0.5)) {
      const m = {
        id: nextId('mk'),
        type: 'marketing.cost',
        ts,
        source: 'klaviyo',
        platform: 'klaviyo',
        amount: dollars(int(500, 5_000)),
        reported_at: ts + 20 * HOUR,
      }
      arrive(ts + 20 * HOUR, m)
      if (chance(0.15))
        tail.push({ ...m, id: nextId('mk-restated'), amount: dollars(int(500, 5_000)), reported_at: ts + 3 * DAY })
    }
    if (d % 7 === 3)
      arrive(ts + 20 * HOUR, {
        id: nextId('mk'),
        type: 'marketing.cost',
        ts,
        source: 'postscript',
        platform: 'postscript',
        campaign_id: `sms-${d}`,
        amount: dollars(int(1_000, 9_000)),
        reported_at: ts + 20 * HOUR,
      })
  }
  // Late arrivals come in any order (the engine's rules, not arrival luck, decide what stands).
  for (let i = tail.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1))
    ;[tail[i], tail[j]] = [tail[j], tail[i]]
  }
  // The last arrival changes a KPI, so a test can wait for it.
  tail.push({
    id: 'sentinel',
    type: 'marketing.cost',
    ts: END - HOUR,
    source: 'postscript',
    platform: 'postscript',
    amount: '0.01',
    reported_at: END,
  })

  a.sort((x, y) => x[0] - y[0] || x[1] - y[1])
  return { phaseA: a.map(([, , e]) => e), tail }
}

/** Events as posted: ts as ISO with the tenant's offset or as epoch ms, reported_at as ISO. */
export function wire(e: Ev, i: number): Record<string, unknown> {
  const iso = (ms: number) => DateTime.fromMillis(ms, { zone: TZ }).toISO()!
  const out: Record<string, unknown> = { ...e, ts: i % 3 === 0 ? e.ts : iso(e.ts) }
  if (typeof e.reported_at === 'number') out.reported_at = iso(e.reported_at)
  return out
}
