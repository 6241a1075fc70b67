// The data set of rfm-intent.test.ts and the figures expected from it, computed plainly from the
// events themselves (never with the engine's functions): 5,200 orders of 1,500 customers over 1,100 days with edits
// (some moving an order to another customer or to a guest, some arriving before their order, some
// stale), refunds (some repeated, some before their order), cancellations, guest orders, and
// shopper events mostly in the last days before AS_OF.

export const DAY = 86_400_000
const HOUR = 3_600_000
export const AS_OF = Date.parse('2026-10-01T00:00:00Z')
export const START = AS_OF - 1100 * DAY
const CATEGORIES = ['apparel', 'beauty', 'electronics', 'footwear', 'groceries', 'sports']
const CITIES = ['Mumbai', 'Delhi', 'Pune', 'Chennai', 'Kolkata']
const CHANNELS = ['facebook', 'google', 'instagram', 'organic']
const WEIGHTS: Record<string, number> = { 'product.viewed': 1, search: 1, 'cart.added': 3, 'checkout.started': 5 }
const SHOPPER_TYPES = [
  'product.viewed',
  'product.viewed',
  'product.viewed',
  'product.viewed',
  'product.viewed',
  'search',
  'search',
  'cart.added',
  'cart.added',
  'checkout.started',
]

export type Ev = Record<string, any> & { id: string; type: string; ts: string }

/** mulberry32: the same data set on every run. */
function prng(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** Cents → "12.34". */
export const usd = (cents: number) =>
  `${cents < 0 ? '-' : ''}${Math.floor(Math.abs(cents) / 100)}.${String(Math.abs(cents) % 100).padStart(2, '0')}`
/** "12.34" → cents. */
const cents = (text: string) => {
  const [whole, fraction = ''] = text.split('.')
  return Number(whole) * 100 + Number(fraction.padEnd(2, '0'))
}
/** a ÷ b rounded half away from zero. */
const roundDiv = (a: number, b: number) => Math.sign(a) * Math.floor((2 * Math.abs(a) + b) / (2 * b))
const iso = (ms: number) => new Date(ms).toISOString()
const byId = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0)

export function generate(): { events: Ev[]; customers: string[]; browsers: string[] } {
  const rand = prng(20261001)
  const int = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1))
  const pick = <T>(list: readonly T[]) => list[Math.floor(rand() * list.length)]
  // Ids of mixed case and unpadded numbers, so code-unit order matters ('C-' < 'c-', '10' < '9').
  const customers = Array.from({ length: 1500 }, (_, k) => `${['c-', 'C-', 'cust_', 'Mx'][k % 4]}${k}`)
  const browsers = Array.from({ length: 150 }, (_, k) => `b-${k}`)
  const home = new Map([...customers, ...browsers].map((c) => [c, pick(CITIES)]))
  let n = 0
  const posted: { post: number; e: Ev }[] = []
  const add = (e: Omit<Ev, 'id' | 'ts'> & { ts: number }, post = e.ts) =>
    posted.push({ post, e: { ...e, id: `ev-${++n}`, ts: iso(e.ts) } as Ev })

  const figures = (customer: string | undefined, giftCard: boolean) => {
    const items = giftCard
      ? [
          {
            sku: 'gift',
            category: 'gifts',
            brand: 'pulse',
            quantity: 1,
            price: 2500,
            cost: undefined as number | undefined,
          },
        ]
      : Array.from({ length: int(1, 3) }, () => {
          const price = int(500, 40_000)
          return {
            sku: `sku-${int(1, 80)}`,
            category: pick(CATEGORIES),
            brand: pick(['nike', 'amul', 'lakme']),
            quantity: int(1, 4),
            price,
            cost: rand() < 0.5 ? Math.round(price * (0.3 + rand() * 0.3)) : undefined,
          }
        })
    const gross = items.reduce((s, i) => s + i.price * i.quantity, 0)
    const discounts = !giftCard && rand() < 0.3 ? Math.round(gross * 0.1) : 0
    const subtotal = gross - discounts
    const tax = giftCard ? 0 : Math.round(subtotal * 0.08)
    const shipping = giftCard ? 0 : pick([0, 499, 999])
    const city = customer ? home.get(customer)! : pick(CITIES)
    return {
      ...(customer ? { customer_id: customer } : {}),
      total: usd(subtotal + tax + shipping),
      subtotal: usd(subtotal),
      discounts: usd(discounts),
      tax: usd(tax),
      shipping: usd(shipping),
      items: items.map((i) => ({
        sku: i.sku,
        category: i.category,
        brand: i.brand,
        quantity: i.quantity,
        price: usd(i.price),
        ...(i.cost === undefined ? {} : { cost: usd(i.cost) }),
      })),
      channel: pick(CHANNELS),
      location: rand() < 0.5 ? city : { city },
    }
  }

  let refunds = 0
  for (let k = 0; k < 5_200; k++) {
    const orderId = `o-${k}`
    const ts = START + int(0, 1100 * 24 * 3600 - 3 * 3600) * 1000
    const customer = rand() < 0.08 ? undefined : customers[Math.floor(customers.length * rand() ** 2)]
    const giftCard = rand() < 0.1
    add({ type: 'order.created', source: 'shopify', order_id: orderId, ts, ...figures(customer, giftCard) })
    const r = rand()
    if (r < 0.08) {
      // An edit, sometimes moving the order to another customer or to a guest checkout.
      const moved = rand() < 0.15 ? (rand() < 0.3 ? undefined : pick(customers)) : customer
      const at = Math.min(ts + int(60, 5 * 24 * 3600) * 1000, AS_OF - HOUR)
      add({ type: 'order.updated', source: 'shopify', order_id: orderId, ts: at, ...figures(moved, giftCard) })
    } else if (r < 0.09) {
      // An edit that arrives before its order.created.
      add(
        {
          type: 'order.updated',
          source: 'shopify',
          order_id: orderId,
          ts: ts + 600_000,
          ...figures(customer, giftCard),
        },
        ts - 1,
      )
    } else if (r < 0.1) {
      // Two edits arriving newest first: the older one must not win.
      add(
        {
          type: 'order.updated',
          source: 'shopify',
          order_id: orderId,
          ts: ts + 7_200_000,
          ...figures(customer, giftCard),
        },
        ts + 60_000,
      )
      add(
        {
          type: 'order.updated',
          source: 'shopify',
          order_id: orderId,
          ts: ts + 3_600_000,
          ...figures(customer, giftCard),
        },
        ts + 120_000,
      )
    }
    if (rand() < 0.08) {
      const at = Math.min(ts + int(3600, 60 * 24 * 3600) * 1000, AS_OF - HOUR)
      const amount = int(100, 5_000)
      const refund = {
        type: 'refund.created',
        source: 'shopify',
        order_id: orderId,
        refund_id: `r-${++refunds}`,
        amount: usd(amount),
        ...(rand() < 0.7 ? { subtotal: usd(amount - int(0, 100)) } : {}),
      }
      const early = rand() < 0.05
      add({ ...refund, ts: at }, early ? ts - 1 : at)
      // The same refund reported again (another event id): it counts once.
      if (rand() < 0.15) add({ ...refund, ts: at }, at + HOUR)
    }
    if (rand() < 0.04)
      add({
        type: 'order.cancelled',
        source: 'shopify',
        order_id: orderId,
        ts: Math.min(ts + int(60, 3 * 24 * 3600) * 1000, AS_OF - HOUR),
      })
  }

  const shopper = (customer: string, type: string, ts: number, category?: string) =>
    add({ type, source: 'custom', customer_id: customer, ts, ...(category ? { category } : {}) })
  for (const c of [...customers.filter(() => rand() < 0.25), ...browsers]) {
    const count = int(1, 30)
    for (let i = 0; i < count; i++) {
      const ts = rand() < 0.65 ? AS_OF - int(0, 4 * 24 * 3600) * 1000 : START + int(0, 1100 * 24 * 3600) * 1000
      shopper(c, pick(SHOPPER_TYPES), ts, rand() < 0.85 ? pick(CATEGORIES) : undefined)
    }
  }
  // Exactly on the threshold: 4 checkouts a half-life ago are 10, high; 8 views are 4, medium.
  for (let i = 0; i < 4; i++) shopper('edge-high', 'checkout.started', AS_OF - DAY, 'sports')
  for (let i = 0; i < 8; i++) shopper('edge-medium', 'product.viewed', AS_OF - DAY, 'sports')
  // Equal weights in two categories at the same instant: the category is the first by name.
  for (const category of ['footwear', 'beauty'])
    for (let i = 0; i < 3; i++) shopper('tie', 'checkout.started', AS_OF - HOUR, category)
  // High intent without any category.
  for (let i = 0; i < 3; i++) shopper('no-category', 'checkout.started', AS_OF - 2 * HOUR)
  // An event at the query time itself counts, with its full weight.
  shopper('at-as-of', 'checkout.started', AS_OF, 'electronics')
  shopper('at-as-of', 'checkout.started', AS_OF, 'electronics')

  // Last: a guest order whose arrival shows that everything before it was applied.
  add(
    {
      type: 'order.created',
      source: 'shopify',
      order_id: 'o-sentinel',
      ts: AS_OF - 2 * HOUR,
      ...figures(undefined, true),
    },
    Number.POSITIVE_INFINITY,
  )
  posted.sort((a, b) => a.post - b.post)
  return {
    events: posted.map((p) => p.e),
    customers,
    browsers: [...browsers, 'edge-high', 'edge-medium', 'tie', 'no-category', 'at-as-of'],
  }
}

// ---- The expected figures, plainly ----

interface Order {
  created: boolean
  windowTs: number
  figuresTs: number
  figures: Ev
  refundSubtotal: number
  refundsByTs: { ts: number; subtotal: number }[]
}

/** Each order as it stands after every event, in arrival order. */
export function ordersOf(events: Ev[]): Map<string, Order> {
  const orders = new Map<string, Order>()
  const seenRefunds = new Set<string>()
  const early: Ev[] = []
  for (const e of events) {
    const ts = Date.parse(e.ts)
    if (e.type === 'order.created' || e.type === 'order.updated') {
      let o = orders.get(e.order_id)
      if (!o) {
        o = { created: false, windowTs: ts, figuresTs: -Infinity, figures: e, refundSubtotal: 0, refundsByTs: [] }
        orders.set(e.order_id, o)
      }
      if (e.type === 'order.created' && !o.created) {
        o.created = true
        o.windowTs = ts
      } else if (!o.created) o.windowTs = Math.min(o.windowTs, ts)
      // The newest edit by event time stands.
      if (ts >= o.figuresTs) {
        o.figures = e
        o.figuresTs = ts
      }
    } else if (e.type === 'refund.created' && !seenRefunds.has(e.refund_id)) {
      seenRefunds.add(e.refund_id)
      early.push(e)
    }
  }
  for (const r of early) {
    const o = orders.get(r.order_id)!
    const subtotal = cents(r.subtotal ?? r.amount)
    o.refundSubtotal += subtotal
    o.refundsByTs.push({ ts: Date.parse(r.ts), subtotal })
  }
  return orders
}

const orderFacts = (o: Order) => {
  const f = o.figures
  // A line's COGS: its cost × quantity, else 40 % of price × quantity rounded half away from zero.
  const cogs = f.items.reduce(
    (s: number, i: any) =>
      s + (i.cost !== undefined ? cents(i.cost) * i.quantity : roundDiv(cents(i.price) * i.quantity * 4, 10)),
    0,
  )
  return {
    customer: (f.customer_id ?? '') as string,
    total: cents(f.total),
    units: f.items.reduce((s: number, i: any) => s + i.quantity, 0),
    grossProfit: cents(f.subtotal) - o.refundSubtotal - cogs,
  }
}

export interface CustomerFacts {
  id: string
  frequency: number
  monetary: number
  first: number
  last: number
  grossProfit: number
  units: number
  recency: number
  r: number
  f: number
  m: number
  segment: string
  /** Fiscal year (April start, UTC) of the first order before asOf, whatever the range. */
  firstYear: number
  /** Fiscal years of the orders counted. */
  years: Set<number>
}

/** The fiscal year (named by the calendar year it starts in) of an instant, read in `zone` with Intl. */
export function plainFiscalYear(ts: number, zone = 'UTC', startMonth = 4): number {
  const parts = new Intl.DateTimeFormat('en-US', { timeZone: zone, year: 'numeric', month: 'numeric' }).formatToParts(
    ts,
  )
  const year = Number(parts.find((p) => p.type === 'year')?.value)
  const month = Number(parts.find((p) => p.type === 'month')?.value)
  return month >= startMonth ? year : year - 1
}

export const plainFiscalLabel = (year: number, startMonth = 4) =>
  startMonth === 1 ? `FY${year}` : `FY${year}-${String((year + 1) % 100).padStart(2, '0')}`

/** The years answered: from that of the earliest order counted to that of the last instant before asOf and to. */
export function fiscalAxis(all: CustomerFacts[], asOf: number, to = Infinity, zone = 'UTC', startMonth = 4) {
  if (all.length === 0) return []
  const first = plainFiscalYear(Math.min(...all.map((c) => c.first)), zone, startMonth)
  const last = plainFiscalYear(Math.min(asOf, to) - 1, zone, startMonth)
  return Array.from({ length: last - first + 1 }, (_, k) => first + k)
}

/** fiscal_year_data over `list` for the years of `axis`, counted plainly. */
export function fiscalDataOf(list: CustomerFacts[], axis: number[], startMonth = 4) {
  return axis.map((year) => {
    const fresh = list.filter((c) => c.years.has(year) && c.firstYear === year).length
    const old = list.filter((c) => c.years.has(year) && c.firstYear < year).length
    return {
      label: plainFiscalLabel(year, startMonth),
      new_customers: fresh,
      old_customers: old,
      new_pct: fresh + old === 0 ? null : (100 * fresh) / (fresh + old),
      old_pct: fresh + old === 0 ? null : (100 * old) / (fresh + old),
    }
  })
}

/** RFM (docs/metrics.md) for every customer with orders in [from, to) before asOf. */
export function rfmOf(orders: Map<string, Order>, asOf: number, from = -Infinity, to = Infinity): CustomerFacts[] {
  const byCustomer = new Map<string, CustomerFacts>()
  const firstEver = new Map<string, number>()
  for (const o of orders.values()) {
    const { customer } = orderFacts(o)
    if (customer && o.windowTs < asOf)
      firstEver.set(customer, Math.min(firstEver.get(customer) ?? Infinity, o.windowTs))
  }
  for (const o of orders.values()) {
    const { customer, total, units, grossProfit } = orderFacts(o)
    if (!customer || o.windowTs >= asOf || o.windowTs < from || o.windowTs >= to) continue
    const c = byCustomer.get(customer) ?? {
      id: customer,
      frequency: 0,
      monetary: 0,
      first: Infinity,
      last: -Infinity,
      grossProfit: 0,
      units: 0,
      recency: 0,
      r: 0,
      f: 0,
      m: 0,
      segment: '',
      firstYear: plainFiscalYear(firstEver.get(customer) ?? 0),
      years: new Set<number>(),
    }
    byCustomer.set(customer, c)
    c.years.add(plainFiscalYear(o.windowTs))
    c.frequency += 1
    c.monetary += total
    c.units += units
    c.grossProfit += grossProfit
    c.first = Math.min(c.first, o.windowTs)
    c.last = Math.max(c.last, o.windowTs)
  }
  const list = [...byCustomer.values()]
  for (const c of list) c.recency = Math.floor((asOf - c.last) / DAY)
  const score = (measure: (c: CustomerFacts) => number, set: (c: CustomerFacts, s: number) => void) => {
    const sorted = [...list].sort((a, b) => measure(a) - measure(b) || byId(a.id, b.id))
    sorted.forEach((c, i) => set(c, Math.ceil((5 * (i + 1)) / sorted.length)))
  }
  score(
    (c) => -c.recency,
    (c, s) => (c.r = s),
  )
  score(
    (c) => c.frequency,
    (c, s) => (c.f = s),
  )
  score(
    (c) => c.monetary,
    (c, s) => (c.m = s),
  )
  for (const c of list) {
    c.segment =
      c.r >= 3 && c.f >= 3 && c.m >= 3
        ? 'CHAMPIONS'
        : c.r >= 2 && c.f >= 2
          ? 'POTENTIAL_LOYALISTS'
          : c.r >= 4
            ? 'NEW_CUSTOMERS'
            : 'NEED_ATTENTION'
  }
  return list
}

const count = (list: CustomerFacts[], buckets: [string, (c: CustomerFacts) => boolean][]) =>
  buckets.map(([label, test]) => ({ label, count: list.filter(test).length }))
const meanGapDays = (c: CustomerFacts) => (c.last - c.first) / (c.frequency - 1) / DAY

/** The dashboard's figures over `list` (already filtered); `axis`: the fiscal years answered. */
export function dashboardOf(list: CustomerFacts[], axis: number[] = []) {
  const n = list.length
  const returning = list.filter((c) => c.frequency >= 2)
  const orders = list.reduce((s, c) => s + c.frequency, 0)
  const profit = list.reduce((s, c) => s + c.grossProfit, 0)
  const scores = (key: 'r' | 'f' | 'm') =>
    count(
      list,
      [1, 2, 3, 4, 5].map((s) => [String(s), (c) => c[key] === s]),
    )
  const range = (value: (c: CustomerFacts) => number, bounds: number[], last: string) =>
    count(
      list,
      bounds.map((lo, i) => [
        i === bounds.length - 1 ? last : `${lo}-${bounds[i + 1]}`,
        (c) => value(c) >= lo && (i === bounds.length - 1 || value(c) < bounds[i + 1]),
      ]),
    )
  return {
    kpi: {
      total_customer: n,
      unit_per_transaction: orders === 0 ? null : list.reduce((s, c) => s + c.units, 0) / orders,
      profit_per_customer: n === 0 ? null : usd(roundDiv(profit, n)),
      customer_spending: usd(list.reduce((s, c) => s + c.monetary, 0)),
      days_to_return:
        returning.length === 0 ? null : returning.reduce((s, c) => s + meanGapDays(c), 0) / returning.length,
      retention_rate: n === 0 ? null : (100 * returning.length) / n,
    },
    r_score_data: scores('r'),
    f_score_data: scores('f'),
    m_score_data: scores('m'),
    r_value_bucket_data: range((c) => c.recency, [0, 200, 400, 600, 800, 1000], '1000+'),
    visits_data: count(list, [
      ['1', (c) => c.frequency === 1],
      ['2', (c) => c.frequency === 2],
      ['3', (c) => c.frequency === 3],
      ['4', (c) => c.frequency === 4],
      ['5+', (c) => c.frequency >= 5],
    ]),
    value_data: range((c) => c.monetary / 100, [0, 1000, 2000, 3000, 4000, 5000], '5000+'),
    segment_data: count(
      list,
      ['CHAMPIONS', 'POTENTIAL_LOYALISTS', 'NEW_CUSTOMERS', 'NEED_ATTENTION'].map((s) => [s, (c) => c.segment === s]),
    ),
    days_to_return_bucket_data: count(returning, [
      ['0-60', (c) => meanGapDays(c) < 60],
      ['60-180', (c) => meanGapDays(c) >= 60 && meanGapDays(c) < 180],
      ['180-365', (c) => meanGapDays(c) >= 180 && meanGapDays(c) < 365],
      ['365-730', (c) => meanGapDays(c) >= 365 && meanGapDays(c) < 730],
      ['730+', (c) => meanGapDays(c) >= 730],
    ]),
    fiscal_year_data: fiscalDataOf(list, axis),
  }
}

export interface IntentFacts {
  id: string
  score: number
  category: string | null
  events: number
  level: 'high' | 'medium' | 'low'
}

/** Intent at asOf of every customer with a shopper event: Σ weight · 2^(−age / 24 h), events after asOf ignored. */
export function intentOf(events: Ev[], asOf: number): Map<string, IntentFacts> {
  const raw = new Map<string, { score: number; events: number; categories: Map<string, number> }>()
  for (const e of events) {
    if (!(e.type in WEIGHTS)) continue
    const ts = Date.parse(e.ts)
    if (ts > asOf) continue
    const c = raw.get(e.customer_id) ?? { score: 0, events: 0, categories: new Map<string, number>() }
    raw.set(e.customer_id, c)
    const weight = WEIGHTS[e.type] * 2 ** (-(asOf - ts) / DAY)
    c.score += weight
    c.events++
    if (e.category) c.categories.set(e.category, (c.categories.get(e.category) ?? 0) + weight)
  }
  const out = new Map<string, IntentFacts>()
  for (const [id, c] of raw) {
    const score = Math.round(c.score * 1e6) / 1e6
    const best = [...c.categories].sort(([a, x], [b, y]) => y - x || byId(a, b))[0]
    out.set(id, {
      id,
      score,
      category: best ? best[0] : null,
      events: c.events,
      level: score >= 10 ? 'high' : score >= 4 ? 'medium' : 'low',
    })
  }
  return out
}

/** The tenant's AOV over [asOf − 90 d, asOf): net sales (refunds by their own date) ÷ orders. */
export function aov90(orders: Map<string, Order>, asOf: number): number | null {
  const from = asOf - 90 * DAY
  let count = 0
  let net = 0
  for (const o of orders.values()) {
    if (o.windowTs >= from && o.windowTs < asOf) {
      count++
      net += cents(o.figures.subtotal)
    }
    for (const r of o.refundsByTs) if (r.ts >= from && r.ts < asOf) net -= r.subtotal
  }
  return count === 0 ? null : roundDiv(net, count)
}

/** City of a customer: every order names its customer's home city. */
export function cityOf(events: Ev[], customer: string): string | null {
  const e = events.find((x) => (x.type === 'order.created' || x.type === 'order.updated') && x.customer_id === customer)
  if (!e) return null
  return typeof e.location === 'string' ? e.location : e.location.city
}

export function intentDashboardOf(
  events: Ev[],
  orders: Map<string, Order>,
  asOf: number,
  page: { category?: string; page: number; pageSize: number },
) {
  const rfm = new Map(rfmOf(orders, asOf).map((c) => [c.id, c]))
  const intent = intentOf(events, asOf)
  const tracked = new Set([...rfm.keys(), ...intent.keys()])
  const levelOf = (id: string) => intent.get(id)?.level ?? 'low'
  const fallback = aov90(orders, asOf)
  const high = [...tracked]
    .filter((id) => levelOf(id) === 'high')
    .map((id) => {
      const i = intent.get(id)!
      const c = rfm.get(id)
      const spend = c ? roundDiv(c.monetary, c.frequency) : fallback
      return {
        customer_id: id,
        category: i.category,
        score: i.score,
        events: i.events,
        location: cityOf(events, id),
        orders: c?.frequency ?? 0,
        spend,
      }
    })
    .sort((a, b) => b.score - a.score || byId(a.customer_id, b.customer_id))
  const opportunity = new Map<string | null, { users: number; spend: number }>()
  for (const u of high) {
    const o = opportunity.get(u.category) ?? { users: 0, spend: 0 }
    opportunity.set(u.category, o)
    o.users++
    o.spend += u.spend ?? 0
  }
  const listed = high.filter((u) => !page.category || u.category === page.category)
  return {
    users_tracked: tracked.size,
    users_by_level: {
      high: high.length,
      medium: [...tracked].filter((id) => levelOf(id) === 'medium').length,
      low: [...tracked].filter((id) => levelOf(id) === 'low').length,
    },
    high_intent_users: {
      category: page.category ?? null,
      page: page.page,
      page_size: page.pageSize,
      total: listed.length,
      users: listed
        .slice((page.page - 1) * page.pageSize, page.page * page.pageSize)
        .map(({ spend, ...u }) => ({ ...u, estimated_spend: spend === null ? null : usd(spend) })),
    },
    revenue_opportunity: [...opportunity]
      .sort(([a, x], [b, y]) => y.spend - x.spend || byId(a ?? '', b ?? ''))
      .map(([category, o]) => ({ category, users: o.users, estimated_spend: usd(o.spend) })),
  }
}
