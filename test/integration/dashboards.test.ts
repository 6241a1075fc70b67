// The dashboards: a generated data set (dashboards-data.ts: 5,000+ orders over 427 days)
// posted to the real app, and every figure of the master, ads and brands, profit and funnel
// dashboards, daily metrics per source, period comparison, KPIs by source with share and the
// activity feed checked against an independent computation written plainly below over the same
// events (it calls nothing of the engine). First with a tail of late arrivals still in live state
// (before a flush), then after a restart, with everything in history: identical answers.
import { DateTime } from 'luxon'
import { afterAll, describe, expect, it } from 'vitest'
import type { z } from 'zod'
import { intentResponse } from '../../query/customer-routes.ts'
import {
  activityAnswer,
  adsAnswer,
  compareAnswer,
  dailyAnswer,
  funnelAnswer,
  overviewAnswer,
  profitAnswer,
  sourcesAnswer,
} from '../../query/dashboards/schemas.ts'
import { SHARED_FIGURES } from '../../query/dashboards/sources.ts'
import { kpisAnswer } from '../../query/metrics-routes.ts'
import { sqlJsonResult } from '../../query/sql-route.ts'
import {
  DAYS,
  DEFAULT_COGS_RATE,
  END,
  type Ev,
  MONTHLY_RETAINER,
  SKU_COST,
  START,
  TZ,
  generate,
  wire,
} from './dashboards-data.ts'
import {
  type App,
  connectLive,
  createTenant,
  errorSchema,
  getJson,
  postEvents,
  readAnswer,
  startApp,
  waitFor,
} from './harness.ts'

// ── plain money and time ─────────────────────────────
/** "12.345" → 1235 cents (half away from zero), sign kept. */

/**
 * A brand's share of an order's amount, worked out plainly (docs/brands.md): weights Σ line revenue
 * per brand ('' for unbranded lines), brands weighing nothing left out unless all do (then equal),
 * each ⌊amount × weight ÷ Σ⌋, the units left to the largest remainders, ties by code-unit order.
 */
function brandShare(o: { lines: { brand: string; revenue: number }[] }, amount: number, brand: string): number {
  const all = new Map<string, number>()
  for (const l of o.lines) all.set(l.brand, (all.get(l.brand) ?? 0) + l.revenue)
  if (all.size === 0) all.set('', 0)
  let w = new Map([...all].filter(([, x]) => x > 0))
  if (w.size === 0) w = new Map([...all].map(([b]) => [b, 1]))
  const brands = [...w.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
  const total = brands.reduce((t, b) => t + w.get(b)!, 0)
  const floors = new Map(brands.map((b) => [b, Math.floor((amount * w.get(b)!) / total)]))
  const rems = new Map(brands.map((b) => [b, (amount * w.get(b)!) % total]))
  let left = amount - [...floors.values()].reduce((t, x) => t + x, 0)
  for (const b of [...brands].sort((x, y) => rems.get(y)! - rems.get(x)! || (x < y ? -1 : 1)))
    if (left-- > 0) floors.set(b, floors.get(b)! + 1)
  return floors.get(brand) ?? 0
}

function cents(value: string | number): number {
  const text = String(value)
  const negative = text.startsWith('-')
  const [whole, fraction = ''] = text.replace('-', '').split('.')
  let c = Number(whole) * 100 + Number(`${fraction}00`.slice(0, 2))
  if (fraction.length > 2 && fraction[2] >= '5') c += 1
  return negative ? -c : c
}
const money = (c: number) =>
  `${c < 0 ? '-' : ''}${Math.floor(Math.abs(c) / 100)}.${String(Math.abs(c) % 100).padStart(2, '0')}`
/** n ÷ d rounded half away from zero. */
function roundDiv(n: number, d: number): number {
  const neg = n < 0 !== d < 0
  const an = BigInt(Math.abs(n))
  const ad = BigInt(Math.abs(d))
  const q = Number((2n * an + ad) / (2n * ad))
  return neg ? -q : q
}
const ratio = (a: number, b: number) => (b === 0 ? null : a / b)
const sum = <T>(xs: T[], f: (x: T) => number) => xs.reduce((s, x) => s + f(x), 0)
const floorMinute = (ms: number) => ms - (ms % 60_000)
const dayOf = (ms: number) => DateTime.fromMillis(ms, { zone: TZ }).toISODate()!
const iso = (ms: number) => new Date(ms).toISOString()
const byKey = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0)

interface Range {
  from: number
  to: number
}
const inRange = (ts: number, r: Range) => floorMinute(ts) >= floorMinute(r.from) && floorMinute(ts) < r.to
/** Tenant-local days whose start lies before `to`, from the day holding `from`. */
function daysOf(r: Range): { day: string; t: string; start: number; end: number }[] {
  const out = []
  for (
    let d = DateTime.fromMillis(floorMinute(r.from), { zone: TZ }).startOf('day');
    d.toMillis() < r.to;
    d = d.plus({ days: 1 })
  ) {
    out.push({
      day: d.toISODate()!,
      t: d.toISO({ suppressMilliseconds: true })!,
      start: d.toMillis(),
      end: d.plus({ days: 1 }).toMillis(),
    })
  }
  return out
}

// ── the independent computation: state after every arrival ──────────────────
interface Line {
  brand: string
  category: string
  revenue: number
  units: number
  cogs: number
}
interface Order {
  id: string
  createdTs: number
  figuresTs: number
  source: string
  channel: string
  campaign: string
  city: string
  customer: string
  total: number
  subtotal: number
  shippingCost: number
  units: number
  lines: Line[]
  highIntent: boolean
}
interface Refund {
  ts: number
  source: string
  order: string
  amount: number
  subtotal: number
}
interface Cancel {
  ts: number
  source: string
  order: string
}
interface Statement {
  kind: 'ad.spend' | 'marketing.cost'
  ts: number
  source: string
  platform: string
  campaign: string
  brand: string
  amount: number
  reportedAt: number
  /** What the platform reported beside spend (ad.spend): conversions in thousandths, value in cents. */
  impressions: number
  clicks: number
  conversionsMilli: number
  conversionValue: number
}
interface FeedItem {
  event_id: string
  type: string
  ts: string
  customer_id: string | null
  amount: string | null
}

const WEIGHTS: Record<string, number> = { 'product.viewed': 1, search: 1, 'cart.added': 3, 'checkout.started': 5 }
const score = (events: { ts: number; weight: number }[], at: number) =>
  Math.round(sum(events, (e) => e.weight * 2 ** (-(at - e.ts) / 86_400_000)) * 1e6) / 1e6

function replay(arrivals: Ev[]) {
  const orders = new Map<string, Order>()
  const refunds = new Map<string, Refund>()
  const cancels = new Map<string, Cancel>()
  const statements = new Map<string, Statement>()
  /** The newest named statement of each campaign: by ts, then reported_at, then arrival. */
  const campaignNames = new Map<string, { name: string; ts: number; reportedAt: number }>()
  const shopping = new Map<string, { ts: number; weight: number }[]>()
  const funnel = new Map<string, Set<string>[]>()
  const users = new Set<string>()
  const feed: FeedItem[] = []
  const fresh = new Map<string, { latest_event_at: number; late_events: number }>()
  let closestToThreshold = Number.POSITIVE_INFINITY
  const funnelAdd = (ts: number, step: number, customer: string) => {
    const day = dayOf(ts)
    if (!funnel.has(day)) funnel.set(day, [new Set(), new Set(), new Set(), new Set()])
    funnel.get(day)![step].add(customer)
  }

  for (const e of arrivals) {
    const f = fresh.get(e.source)
    if (!f) fresh.set(e.source, { latest_event_at: e.ts, late_events: 0 })
    else {
      if (e.ts < f.latest_event_at - 300_000) f.late_events++
      f.latest_event_at = Math.max(f.latest_event_at, e.ts)
    }
    const item = (customer: string | null, amount: string | null) =>
      feed.push({ event_id: e.id, type: e.type, ts: iso(e.ts), customer_id: customer, amount })
    switch (e.type) {
      case 'order.created':
      case 'order.updated': {
        const lines: Line[] = e.items.map((i: any) => {
          const revenue = cents(i.price) * i.quantity
          const cogs =
            i.sku === SKU_COST.sku
              ? cents(SKU_COST.cost) * i.quantity
              : i.cost !== undefined
                ? cents(i.cost) * i.quantity
                : roundDiv(revenue * Math.round(DEFAULT_COGS_RATE * 100), 100)
          return { brand: i.brand ?? '', category: i.category ?? '', revenue, units: i.quantity, cogs }
        })
        const figures = {
          source: e.source,
          channel: e.channel,
          campaign: e.campaign_id ?? '',
          city: typeof e.location === 'string' ? e.location : (e.location?.city ?? ''),
          customer: e.customer_id ?? '',
          total: cents(e.total),
          subtotal: cents(e.subtotal),
          shippingCost: cents(e.shipping_cost ?? e.shipping),
          units: sum(lines, (l) => l.units),
          lines,
          figuresTs: e.ts,
        }
        const old = orders.get(e.order_id)
        if (!old) {
          let highIntent = false
          if (e.customer_id) {
            const seen = shopping.get(e.customer_id) ?? []
            expect(seen.every((s) => s.ts <= e.ts)).toBe(true) // intent counts events up to the order only
            const s = score(seen, e.ts)
            closestToThreshold = Math.min(closestToThreshold, Math.abs(s - 10))
            highIntent = s >= 10
            users.add(e.customer_id)
            funnelAdd(e.ts, 3, e.customer_id)
          }
          expect(e.type).toBe('order.created') // the data set edits only orders already seen
          orders.set(e.order_id, { id: e.order_id, createdTs: e.ts, highIntent, ...figures })
          item(e.customer_id ?? null, money(figures.total))
        } else if (e.ts >= old.figuresTs) {
          orders.set(e.order_id, { ...old, ...figures })
        }
        break
      }
      case 'refund.created': {
        const key = e.refund_id ?? `event:${e.id}`
        if (refunds.has(key)) break
        refunds.set(key, {
          ts: e.ts,
          source: e.source,
          order: e.order_id,
          amount: cents(e.amount),
          subtotal: cents(e.subtotal ?? e.amount),
        })
        item(orders.get(e.order_id)?.customer || null, money(cents(e.amount)))
        break
      }
      case 'order.cancelled':
        if (!cancels.has(e.order_id)) cancels.set(e.order_id, { ts: e.ts, source: e.source, order: e.order_id })
        item(null, null)
        break
      case 'ad.spend':
      case 'marketing.cost': {
        const key = `${e.type}|${e.platform}|${e.campaign_id ?? ''}|${e.period ?? 'day'}|${e.ts}`
        const reportedAt = Date.parse(e.reported_at) || e.reported_at
        const old = statements.get(key)
        if (old && reportedAt < old.reportedAt) break
        const amount = cents(e.type === 'ad.spend' ? e.spend : e.amount)
        statements.set(key, {
          kind: e.type,
          ts: e.ts,
          source: e.source,
          platform: e.platform,
          campaign: e.campaign_id ?? '',
          brand: e.type === 'ad.spend' ? (e.brand ?? '') : '',
          amount,
          reportedAt,
          impressions: e.impressions ?? 0,
          clicks: e.clicks ?? 0,
          conversionsMilli: Math.round((e.conversions ?? 0) * 1000),
          conversionValue: e.conversion_value === undefined ? 0 : cents(e.conversion_value),
        })
        if (e.type === 'ad.spend' && e.campaign_name) {
          const named = campaignNames.get(e.campaign_id)
          if (!named || e.ts > named.ts || (e.ts === named.ts && reportedAt >= named.reportedAt))
            campaignNames.set(e.campaign_id, { name: e.campaign_name, ts: e.ts, reportedAt })
        }
        break
      }
      default: {
        users.add(e.customer_id)
        if (!shopping.has(e.customer_id)) shopping.set(e.customer_id, [])
        shopping.get(e.customer_id)!.push({ ts: e.ts, weight: WEIGHTS[e.type] })
        const step = ['product.viewed', 'cart.added', 'checkout.started'].indexOf(e.type)
        if (step >= 0) funnelAdd(e.ts, step, e.customer_id)
        if (e.type === 'cart.added' || e.type === 'checkout.started') item(e.customer_id, null)
      }
    }
  }
  const highIntentAt = (at: number) => [...shopping.values()].filter((events) => score(events, at) >= 10).length
  for (const events of shopping.values())
    closestToThreshold = Math.min(closestToThreshold, Math.abs(score(events, END) - 10))
  return {
    orders: [...orders.values()],
    refunds: [...refunds.values()],
    cancels: [...cancels.values()],
    statements: [...statements.values()],
    campaignNames,
    funnel,
    users,
    feed,
    fresh,
    highIntentAt,
    closestToThreshold,
  }
}

type State = ReturnType<typeof replay>

// ── KPIs over a selection ─────────────────────────────
interface Selection {
  orders: Order[]
  refunds: Refund[]
  cancels: Cancel[]
  spend: Statement[]
  marketing: Statement[]
}

function select(
  s: State,
  r: Range,
  view: string,
  keep: { order?: (o: Order) => boolean; refund?: (x: Refund) => boolean; statement?: (x: Statement) => boolean } = {},
): Selection {
  const orderOf = new Map(s.orders.map((o) => [o.id, o]))
  const windowOf = (ts: number, order: string) => (view === 'order_date' ? (orderOf.get(order)?.createdTs ?? ts) : ts)
  const okO = keep.order ?? (() => true)
  const okR = keep.refund ?? (() => true)
  const okS = keep.statement ?? (() => true)
  return {
    orders: s.orders.filter((o) => inRange(o.createdTs, r) && okO(o)),
    refunds: s.refunds.filter((x) => inRange(windowOf(x.ts, x.order), r) && okR(x)),
    cancels: s.cancels.filter((x) => inRange(windowOf(x.ts, x.order), r) && okR({ ...x, amount: 0, subtotal: 0 })),
    spend: s.statements.filter((x) => x.kind === 'ad.spend' && inRange(x.ts, r) && okS(x)),
    marketing: s.statements.filter((x) => x.kind === 'marketing.cost' && inRange(x.ts, r) && okS(x)),
  }
}

function kpis(sel: Selection, channelOf: (order: string) => string) {
  const gmv = sum(sel.orders, (o) => o.total)
  const orders = sel.orders.length
  const refunds = sum(sel.refunds, (r) => r.amount)
  const net = sum(sel.orders, (o) => o.subtotal) - sum(sel.refunds, (r) => r.subtotal)
  const ad = sum(sel.spend, (s) => s.amount)
  const mkt = sum(sel.marketing, (s) => s.amount)
  const attributedOrders = sel.orders.filter((o) => o.channel !== 'organic')
  const attributed = sum(attributedOrders, (o) => o.total)
  const cogs = sum(sel.orders, (o) => sum(o.lines, (l) => l.cogs))
  const gross = net - cogs
  const shipping = sum(sel.orders, (o) => o.shippingCost)
  const contribution = gross - shipping - ad - mkt
  const attributedGross =
    sum(attributedOrders, (o) => o.subtotal - sum(o.lines, (l) => l.cogs)) -
    sum(
      sel.refunds.filter((r) => channelOf(r.order) !== 'organic'),
      (r) => r.subtotal,
    )
  return {
    gmv: money(gmv),
    orders,
    units: sum(sel.orders, (o) => o.units),
    refunds: money(refunds),
    refund_rate: ratio(refunds, gmv),
    cancelled_orders: sel.cancels.length,
    net_sales: money(net),
    aov: orders === 0 ? null : money(roundDiv(net, orders)),
    ad_spend: money(ad),
    attributed_revenue: money(attributed),
    roas: ratio(attributed, ad),
    marketing_cost: money(mkt),
    mer: ratio(gmv, ad + mkt),
    cogs: money(cogs),
    gross_profit: money(gross),
    shipping_cost: money(shipping),
    contribution_margin: money(contribution),
    margin: ratio(contribution, net),
    poas: ratio(attributedGross, ad),
    // This data carries no fees (test/integration/fees-orders.test.ts has them).
    fees: money(0),
    net_profit: money(contribution),
  }
}
type Kpis = ReturnType<typeof kpis>
const asNumber = (v: string | number | null) => (typeof v === 'string' ? cents(v) : v)
const changeOf = (current: Kpis, previous: Kpis) =>
  Object.fromEntries(
    Object.keys(current).map((k) => {
      const c = asNumber(current[k as keyof Kpis])
      const p = asNumber(previous[k as keyof Kpis])
      return [k, c === null || p === null || p === 0 ? null : (c - p) / p]
    }),
  )

/**
 * New, returning and guest figures over [from, to): a customer is new when their first order ever
 * (cancelled or not) is not before the range's first minute; refunds (placed by the view) count
 * against the net sales of their order's group; refunds of orders not seen yet, in none.
 */
function customerGroups(s: State, r: Range, view: string) {
  const orderOf = new Map(s.orders.map((o) => [o.id, o]))
  const first = new Map<string, number>()
  for (const o of s.orders)
    if (o.customer) first.set(o.customer, Math.min(first.get(o.customer) ?? Number.POSITIVE_INFINITY, o.createdTs))
  const groupOf = (o: Order) =>
    !o.customer ? 'guest' : floorMinute(first.get(o.customer)!) >= floorMinute(r.from) ? 'new' : 'returning'
  const g = {
    new: { customers: new Set<string>(), orders: 0, gmv: 0, net: 0 },
    returning: { customers: new Set<string>(), orders: 0, gmv: 0, net: 0 },
    guest: { customers: new Set<string>(), orders: 0, gmv: 0, net: 0 },
  }
  for (const o of s.orders) {
    if (!inRange(o.createdTs, r)) continue
    const group = g[groupOf(o)]
    group.orders++
    group.gmv += o.total
    group.net += o.subtotal
    if (o.customer) group.customers.add(o.customer)
  }
  for (const x of s.refunds) {
    const o = orderOf.get(x.order)
    // A refund of an order not seen yet is in no group (it counts in the KPIs' net sales alone).
    if (o && inRange(view === 'order_date' ? o.createdTs : x.ts, r)) g[groupOf(o)].net -= x.subtotal
  }
  return {
    new_customers: g.new.customers.size,
    returning_customers: g.returning.customers.size,
    new_orders: g.new.orders,
    new_gmv: money(g.new.gmv),
    new_net_sales: money(g.new.net),
    returning_orders: g.returning.orders,
    returning_gmv: money(g.returning.gmv),
    returning_net_sales: money(g.returning.net),
    guest_orders: g.guest.orders,
    guest_gmv: money(g.guest.gmv),
    guest_net_sales: money(g.guest.net),
  }
}

// ── expected answers ───────────────────────────────
function expectedFor(s: State) {
  const orderOf = new Map(s.orders.map((o) => [o.id, o]))
  const channelOf = (id: string) => orderOf.get(id)?.channel ?? 'unknown'
  const header = (r: Range, asOf: number) => ({
    currency: 'USD',
    timezone: TZ,
    from: iso(r.from),
    to: iso(r.to),
    as_of: iso(asOf),
  })
  const freshness = Object.fromEntries(
    [...s.fresh]
      .sort(([a], [b]) => byKey(a, b))
      .map(([source, f]) => [
        source,
        {
          latest_event_at: iso(f.latest_event_at),
          watermark: iso(f.latest_event_at - 300_000),
          late_events: f.late_events,
        },
      ]),
  )

  /** Sources with any row in the range: orders, both parts of refunds and cancellations, statements. */
  function sourcesIn(r: Range): string[] {
    const out = new Set<string>()
    for (const o of s.orders) if (inRange(o.createdTs, r)) out.add(o.source)
    for (const x of [...s.refunds, ...s.cancels])
      if (inRange(x.ts, r) || inRange(orderOf.get(x.order)!.createdTs, r)) out.add(x.source)
    for (const x of s.statements) if (inRange(x.ts, r)) out.add(x.source)
    return [...out].sort(byKey)
  }
  const bySource = (r: Range, view: string) => {
    const total = kpis(select(s, r, view), channelOf)
    return Object.fromEntries(
      sourcesIn(r).map((src) => {
        const k = kpis(
          select(s, r, view, {
            order: (o) => o.source === src,
            refund: (x) => x.source === src,
            statement: (x) => x.source === src,
          }),
          channelOf,
        )
        return [src, { ...k, gmv_share: ratio(cents(k.gmv), cents(total.gmv)) }]
      }),
    )
  }

  return {
    freshness,
    kpis(r: Range, view: string) {
      return { ...kpis(select(s, r, view), channelOf), ...customerGroups(s, r, view), by_source: bySource(r, view) }
    },

    overview(r: Range, asOf: number) {
      const sel = select(s, r, 'transaction_date')
      const attributed = sel.orders.filter((o) => o.channel !== 'organic')
      const gmv = sum(sel.orders, (o) => o.total)
      const attr = sum(attributed, (o) => o.total)
      const ad = sum(sel.spend, (x) => x.amount)
      // Ad spend on high-intent purchases, per (day, campaign) and per (day, channel) for orders without a campaign.
      const groups = new Map<string, { hi: number; attributed: number; spend: number }>()
      const at = (k: string) => groups.get(k) ?? (groups.set(k, { hi: 0, attributed: 0, spend: 0 }), groups.get(k)!)
      for (const o of attributed) {
        const day = dayOf(o.createdTs)
        at(`${day}|channel|${o.channel}`).attributed += o.total
        if (o.campaign) {
          at(`${day}|campaign|${o.campaign}`).attributed += o.total
          if (o.highIntent) at(`${day}|campaign|${o.campaign}`).hi += o.total
        } else if (o.highIntent) at(`${day}|channel|${o.channel}`).hi += o.total
      }
      for (const x of sel.spend) {
        at(`${dayOf(x.ts)}|channel|${x.platform}`).spend += x.amount
        at(`${dayOf(x.ts)}|campaign|${x.campaign}`).spend += x.amount
      }
      const hiSpend = sum([...groups.values()], (g) =>
        g.hi === 0 || g.attributed === 0 ? 0 : roundDiv(g.hi * g.spend, g.attributed),
      )
      const months: string[] = []
      for (
        let m = DateTime.fromMillis(r.from, { zone: TZ }).startOf('month');
        m <= DateTime.fromMillis(r.to - 1, { zone: TZ }).startOf('month');
        m = m.plus({ months: 1 })
      )
        months.push(m.toFormat('yyyy-MM'))
      const retainer = cents(MONTHLY_RETAINER) * months.length
      const commission = roundDiv(ad, 10)
      const premium = roundDiv(hiSpend * 8, 100)
      return {
        ...header(r, asOf),
        gmv: money(gmv),
        orders: sel.orders.length,
        attributed_revenue: money(attr),
        attributed_share: ratio(attr, gmv),
        high_intent_revenue: money(
          sum(
            attributed.filter((o) => o.highIntent),
            (o) => o.total,
          ),
        ),
        ad_spend: money(ad),
        users_tracked: s.users.size,
        high_intent_users: s.highIntentAt(asOf),
        platform_revenue: {
          total: money(retainer + commission + premium),
          monthly_retainer: { per_month: MONTHLY_RETAINER, months, amount: money(retainer) },
          ad_commission: { rate: 0.1, ad_spend: money(ad), amount: money(commission) },
          high_intent_premium: {
            premium_rate: 0.2,
            spend_share: 0.4,
            high_intent_ad_spend: money(hiSpend),
            amount: money(premium),
          },
        },
        freshness,
      }
    },

    ads(r: Range, asOf: number, brand: string | null) {
      const sel = select(s, r, 'transaction_date', { statement: (x) => brand === null || x.brand === brand })
      const lines = sel.orders.flatMap((o) =>
        o.lines.filter((l) => brand === null || l.brand === brand).map((l) => ({ ...l, order: o })),
      )
      /** Ad-driven revenue of some orders: their totals, or one brand's share of them (docs/brands.md). */
      const adRevenue = (orders: Order[]) =>
        sum(
          orders.filter((o) => o.channel !== 'organic'),
          (o) => (brand === null ? o.total : brandShare(o, o.total, brand)),
        )
      /** Spend figures of some statements beside ad-driven revenue, with what the platforms reported. */
      const ads = (statements: Statement[], revenue: number) => {
        const spend = sum(statements, (x) => x.amount)
        const impressions = sum(statements, (x) => x.impressions)
        const clicks = sum(statements, (x) => x.clicks)
        const conversionsMilli = sum(statements, (x) => x.conversionsMilli)
        const conversionValue = sum(statements, (x) => x.conversionValue)
        return {
          ad_spend: money(spend),
          ad_revenue: money(revenue),
          roas: ratio(revenue, spend),
          impressions,
          clicks,
          conversions: conversionsMilli / 1000,
          conversion_value: money(conversionValue),
          ctr: ratio(clicks, impressions),
          cpc: clicks === 0 ? null : money(roundDiv(spend, clicks)),
          cpm: impressions === 0 ? null : money(roundDiv(spend * 1000, impressions)),
          cpa: conversionsMilli === 0 ? null : money(roundDiv(spend * 1000, conversionsMilli)),
          platform_roas: ratio(conversionValue, spend),
        }
      }
      const reported = (c: ReturnType<typeof ads>) =>
        c.ad_spend !== '0.00' ||
        c.ad_revenue !== '0.00' ||
        c.impressions !== 0 ||
        c.clicks !== 0 ||
        c.conversions !== 0 ||
        c.conversion_value !== '0.00'
      const names = (xs: string[]) => [...new Set(xs)].filter((x) => x !== '').sort(byKey)

      const channels = names([...sel.spend.map((x) => x.platform), ...sel.orders.map((o) => o.channel)])
        .map((channel) => ({
          channel,
          ...ads(
            sel.spend.filter((x) => x.platform === channel),
            adRevenue(sel.orders.filter((o) => o.channel === channel)),
          ),
        }))
        .filter(reported)
      const campaigns = names([...sel.spend.map((x) => x.campaign), ...sel.orders.map((o) => o.campaign)])
        .map((campaign) => {
          const spend = sel.spend.filter((x) => x.campaign === campaign)
          const orders = sel.orders.filter(
            (o) =>
              o.campaign === campaign &&
              o.channel !== 'organic' &&
              (brand === null || o.lines.some((l) => l.brand === brand)),
          )
          return {
            campaign_id: campaign,
            campaign_name: s.campaignNames.get(campaign)?.name ?? null,
            channels: names([...spend.map((x) => x.platform), ...orders.map((o) => o.channel)]),
            ...ads(spend, adRevenue(orders)),
          }
        })
        .filter(reported)
      const brands = names([...sel.spend.map((x) => x.brand), ...lines.map((l) => l.brand)])
        .map((b) => ({
          brand: b,
          ...ads(
            sel.spend.filter((x) => x.brand === b),
            sum(
              sel.orders.filter((o) => o.channel !== 'organic'),
              (o) => brandShare(o, o.total, b),
            ),
          ),
        }))
        .filter(reported)
      const linesOf = (orders: Order[]) => {
        const these = new Set(orders)
        return lines.filter((l) => these.has(l.order))
      }
      const cityRevenue = (orders: Order[]) =>
        sum(orders, (o) => (brand === null ? o.total : brandShare(o, o.total, brand)))
      const cityTotal = cityRevenue(sel.orders)
      const cities = names(sel.orders.map((o) => o.city)).map((city) => {
        const orders = sel.orders.filter((o) => o.city === city)
        const revenue = cityRevenue(orders)
        return {
          city,
          revenue: money(revenue),
          ad_revenue: money(adRevenue(orders)),
          units: sum(linesOf(orders), (l) => l.units),
          share: ratio(revenue, cityTotal),
        }
      })
      const categoryTotal = sum(lines, (l) => l.revenue)
      const categories = names(lines.map((l) => l.category)).map((category) => {
        const mine = lines.filter((l) => l.category === category)
        const revenue = sum(mine, (l) => l.revenue)
        return {
          category,
          revenue: money(revenue),
          ad_revenue: money(
            sum(
              mine.filter((l) => l.order.channel !== 'organic'),
              (l) => l.revenue,
            ),
          ),
          units: sum(mine, (l) => l.units),
          share: ratio(revenue, categoryTotal),
        }
      })
      return {
        ...header(r, asOf),
        brand,
        ...ads(sel.spend, adRevenue(sel.orders)),
        by_channel: channels,
        by_campaign: campaigns,
        by_brand: brands,
        unassigned_ad_spend: money(
          sum(
            sel.spend.filter((x) => x.brand === ''),
            (x) => x.amount,
          ),
        ),
        by_city: cities,
        by_category: categories,
        freshness,
      }
    },

    profit(r: Range, asOf: number, view: string) {
      const pick = (k: Kpis) => ({
        net_sales: k.net_sales,
        cogs: k.cogs,
        shipping_cost: k.shipping_cost,
        ad_spend: k.ad_spend,
        marketing_cost: k.marketing_cost,
        gross_profit: k.gross_profit,
        contribution_margin: k.contribution_margin,
        margin: k.margin,
        fees: k.fees,
        net_profit: k.net_profit,
      })
      const total = kpis(select(s, r, view), channelOf)
      const days = daysOf(r).map((d) => ({
        day: d.day,
        t: d.t,
        ...pick(kpis(select(s, { from: Math.max(r.from, d.start), to: Math.min(r.to, d.end) }, view), channelOf)),
      }))
      const all = select(s, r, view)
      const bothViews = [...select(s, r, 'transaction_date').refunds, ...select(s, r, 'order_date').refunds]
      const channelNames = [
        ...new Set([
          ...all.orders.map((o) => o.channel),
          ...bothViews.map((x) => channelOf(x.order)),
          ...all.spend.map((x) => x.platform),
          ...all.marketing.map((x) => x.platform),
        ]),
      ].sort(byKey)
      const channels = channelNames
        .map((channel) => ({
          touched:
            all.orders.some((o) => o.channel === channel) ||
            bothViews.some((x) => channelOf(x.order) === channel && x.subtotal !== 0) ||
            all.spend.some((x) => x.platform === channel) ||
            all.marketing.some((x) => x.platform === channel),
          figures: {
            channel,
            ...pick(
              kpis(
                select(s, r, view, {
                  order: (o) => o.channel === channel,
                  refund: (x) => channelOf(x.order) === channel,
                  statement: (x) => x.platform === channel,
                }),
                channelOf,
              ),
            ),
          },
        }))
        .filter((c) => c.touched)
        .map((c) => c.figures)
      const campaignNames = [...new Set([...all.orders.map((o) => o.campaign), ...all.spend.map((x) => x.campaign)])]
        .filter((c) => c !== '')
        .sort(byKey)
      const campaigns = campaignNames
        .map((campaign) => {
          const orders = all.orders.filter((o) => o.campaign === campaign && o.channel !== 'organic')
          const attributed = sum(orders, (o) => o.total)
          const spend = sum(
            all.spend.filter((x) => x.campaign === campaign),
            (x) => x.amount,
          )
          const cogs = sum(orders, (o) => sum(o.lines, (l) => l.cogs))
          return {
            campaign_id: campaign,
            orders: orders.length,
            attributed_revenue: money(attributed),
            ad_spend: money(spend),
            cogs: money(cogs),
            profit: money(attributed - spend - cogs),
          }
        })
        .filter((c) => c.orders !== 0 || c.ad_spend !== '0.00' || c.cogs !== '0.00')
      return {
        ...header(r, asOf),
        view,
        ...pick(total),
        by_day: days,
        by_channel: channels,
        by_campaign: campaigns,
        freshness,
      }
    },

    funnel(r: Range, asOf: number) {
      const steps = ['product_viewed', 'cart_added', 'checkout_started', 'ordered']
      const figures = (counts: number[]) =>
        steps.map((step, i) => {
          const conversion = i === 0 ? null : ratio(counts[i], counts[i - 1])
          return { step, count: counts[i], conversion, drop_off: conversion === null ? null : 1 - conversion }
        })
      const totals = [0, 0, 0, 0]
      const days = daysOf(r).map((d) => {
        const counts = (s.funnel.get(d.day) ?? [new Set(), new Set(), new Set(), new Set()]).map((set) => set.size)
        counts.forEach((c, i) => (totals[i] += c))
        return { day: d.day, t: d.t, steps: figures(counts) }
      })
      return {
        ...header(r, asOf),
        steps,
        days,
        totals: figures(totals),
        conversion: ratio(totals[3], totals[0]),
        freshness,
      }
    },

    daily(r: Range, asOf: number, view: string) {
      const days = daysOf(r).map((d) => {
        const part = { from: Math.max(r.from, d.start), to: Math.min(r.to, d.end) }
        const total = { ...kpis(select(s, part, view), channelOf), ...customerGroups(s, part, view) }
        return { day: d.day, t: d.t, total, by_source: bySource(part, view) }
      })
      return { ...header(r, asOf), view, days, freshness }
    },

    compare(r: Range, asOf: number, view: string) {
      const prev = { from: r.from - (r.to - r.from), to: r.from }
      const current = { ...kpis(select(s, r, view), channelOf), ...customerGroups(s, r, view) }
      const previous = { ...kpis(select(s, prev, view), channelOf), ...customerGroups(s, prev, view) }
      const curSources = bySource(r, view)
      const prevSources = bySource(prev, view)
      const none = kpis(select(s, { from: 0, to: 1 }, view), channelOf)
      const sources = [...new Set([...Object.keys(curSources), ...Object.keys(prevSources)])].sort(byKey)
      return {
        ...header(r, asOf),
        view,
        compare: { mode: 'previous_period', from: iso(prev.from), to: iso(prev.to) },
        current: { from: iso(r.from), to: iso(r.to), ...current },
        previous: { from: iso(prev.from), to: iso(prev.to), ...previous },
        change: changeOf(current, previous),
        by_source: Object.fromEntries(
          sources.map((src) => {
            const { gmv_share: _a, ...c } = curSources[src] ?? { ...none, gmv_share: null }
            const { gmv_share: _b, ...p } = prevSources[src] ?? { ...none, gmv_share: null }
            return [src, { current: c, previous: p, change: changeOf(c, p) }]
          }),
        ),
        freshness,
      }
    },

    sources(r: Range, asOf: number, view: string) {
      const total = kpis(select(s, r, view), channelOf)
      return {
        ...header(r, asOf),
        view,
        total: { ...total, ...customerGroups(s, r, view) },
        sources: Object.entries(bySource(r, view)).map(([source, k]) => ({
          source,
          ...k,
          share: Object.fromEntries(SHARED_FIGURES.map((f) => [f, ratio(asNumber(k[f])!, asNumber(total[f])!)])),
        })),
        // No event names a store: one store '', the whole.
        by_store: [{ store: '', ...total, gmv_share: asNumber(total.gmv) === 0 ? null : 1 }],
        freshness,
      }
    },

    activity(limit: number) {
      return s.feed.slice(-limit).reverse()
    },
  }
}

// ── the test ─────────────────────────────────
const local = (text: string) => DateTime.fromISO(text, { zone: TZ }).toMillis()
const ALL: Range = { from: START, to: END + 20 * 86_400_000 }
const SPRING: Range = { from: local('2025-03-01'), to: local('2025-04-15') } // DST starts on 9 March
// DST ends on 3 November
const ODD: Range = { from: Date.parse('2024-11-02T13:37:20Z'), to: Date.parse('2024-12-04T05:00:30Z') }
const AS_OF = END
const q = (r: Range, extra = '') =>
  `${new URLSearchParams({ from: iso(r.from), to: iso(r.to), as_of: iso(AS_OF) })}${extra}`

const { phaseA, tail } = generate()
const arrivals = [...phaseA, ...tail]

describe('dashboards: every figure against an independent computation', () => {
  let app: App | undefined
  let key = ''
  const answers = new Map<string, unknown>()
  afterAll(async () => app?.kill())

  let all: State
  let expected: ReturnType<typeof expectedFor>
  type Check = [path: string, expect: () => unknown, pick?: (body: any) => unknown]
  /** Each checked route's own response schema, by path: every answer is read with it. */
  const schemaOf = (path: string): z.ZodType =>
    ({
      '/v1/dashboards/overview': overviewAnswer,
      '/v1/dashboards/ads': adsAnswer,
      '/v1/dashboards/profit': profitAnswer,
      '/v1/dashboards/funnel': funnelAnswer,
      '/v1/metrics/daily': dailyAnswer,
      '/v1/metrics/compare': compareAnswer,
      '/v1/metrics/sources': sourcesAnswer,
      '/v1/metrics/kpis': kpisAnswer,
      '/v1/activity': activityAnswer,
    })[path.split('?')[0]] ?? errorSchema
  const mine = (body: any) => {
    const { revenue_opportunities: _r, ...rest } = body
    return rest
  }
  const checks: Check[] = [
    ...[ALL, SPRING, ODD].map(
      (r): Check => [`/v1/dashboards/overview?${q(r)}`, () => expected.overview(r, AS_OF), mine],
    ),
    ...[ALL, SPRING, ODD].map((r): Check => [`/v1/dashboards/ads?${q(r)}`, () => expected.ads(r, AS_OF, null)]),
    [`/v1/dashboards/ads?${q(ALL, '&brand=nike')}`, () => expected.ads(ALL, AS_OF, 'nike')],
    [`/v1/dashboards/ads?${q(SPRING, '&brand=puma')}`, () => expected.ads(SPRING, AS_OF, 'puma')],
    ...[ALL, SPRING, ODD].map(
      (r): Check => [`/v1/dashboards/profit?${q(r)}`, () => expected.profit(r, AS_OF, 'transaction_date')],
    ),
    [`/v1/dashboards/profit?${q(SPRING, '&view=order_date')}`, () => expected.profit(SPRING, AS_OF, 'order_date')],
    ...[ALL, ODD].map((r): Check => [`/v1/dashboards/funnel?${q(r)}`, () => expected.funnel(r, AS_OF)]),
    ...[SPRING, ODD].map(
      (r): Check => [`/v1/metrics/daily?${q(r)}`, () => expected.daily(r, AS_OF, 'transaction_date')],
    ),
    [`/v1/metrics/daily?${q(SPRING, '&view=order_date')}`, () => expected.daily(SPRING, AS_OF, 'order_date')],
    ...[SPRING, ODD].map(
      (r): Check => [`/v1/metrics/compare?${q(r)}`, () => expected.compare(r, AS_OF, 'transaction_date')],
    ),
    [`/v1/metrics/compare?${q(SPRING, '&view=order_date')}`, () => expected.compare(SPRING, AS_OF, 'order_date')],
    ...[ALL, ODD].map(
      (r): Check => [`/v1/metrics/sources?${q(r)}`, () => expected.sources(r, AS_OF, 'transaction_date')],
    ),
    [`/v1/metrics/sources?${q(SPRING, '&view=order_date')}`, () => expected.sources(SPRING, AS_OF, 'order_date')],
    ...[ALL, SPRING].map(
      (r): Check => [
        `/v1/metrics/kpis?${q(r)}`,
        () => expected.kpis(r, 'transaction_date'),
        (b) => ({
          ...Object.fromEntries(
            Object.entries(b).filter(
              ([k]) =>
                ![
                  'by_channel',
                  'by_store',
                  'freshness',
                  'currency',
                  'timezone',
                  'from',
                  'to',
                  'as_of',
                  'view',
                ].includes(k),
            ),
          ),
        }),
      ],
    ),
    [
      `/v1/activity?limit=50`,
      () => ({ items: expected.activity(50), freshness: expected.freshness }),
      (b) => ({ ...b, items: b.items.map(({ description: _d, ...item }: any) => item) }),
    ],
    [
      `/v1/activity?limit=500`,
      () => ({ items: expected.activity(500), freshness: expected.freshness }),
      (b) => ({ ...b, items: b.items.map(({ description: _d, ...item }: any) => item) }),
    ],
  ]

  it('generates a data set the test can judge unambiguously', () => {
    all = replay(arrivals)
    expected = expectedFor(all)
    expect(all.orders.length).toBeGreaterThanOrEqual(5_000)
    expect(DAYS).toBeGreaterThanOrEqual(400)
    expect(all.orders.filter((o) => o.highIntent).length).toBeGreaterThan(500)
    expect(all.highIntentAt(AS_OF)).toBeGreaterThanOrEqual(25)
    // No intent score near the threshold: float summation order cannot flip a level.
    expect(all.closestToThreshold).toBeGreaterThan(1e-6)
    expect(tail.length).toBeLessThan(5_000) // one batch: stays in live state until a flush
    // Ad metrics: restated statements with other platform figures, names given and changed,
    // fractional conversions, and divisors of 0 (pinterest reports no impressions or conversions,
    // g-2 no clicks).
    const spendEvents = arrivals.filter((e) => e.type === 'ad.spend')
    expect(spendEvents.filter((e) => e.id.startsWith('ad-restated')).length).toBeGreaterThan(100)
    expect(spendEvents.filter((e) => e.clicks === 0).length).toBeGreaterThan(10)
    expect(spendEvents.filter((e) => e.impressions === 0).length).toBeGreaterThan(10)
    const ads = expected.ads(ALL, AS_OF, null)
    expect(Number.isInteger(ads.conversions)).toBe(false)
    expect(ads.by_channel.find((c) => c.channel === 'pinterest')).toMatchObject({
      impressions: 0,
      ctr: null,
      cpm: null,
      cpa: null,
      conversion_value: '0.00',
      platform_roas: 0,
    })
    expect(ads.by_campaign.find((c) => c.campaign_id === 'g-2')).toMatchObject({ clicks: 0, cpc: null })
    expect(ads.by_campaign.filter((c) => c.campaign_name !== null).length).toBeGreaterThanOrEqual(5)
    expect(new Set(spendEvents.filter((e) => e.campaign_id === 'fb-1').map((e) => e.campaign_name)).size).toBe(5)
  })

  it('takes the settings and the first 20,000 events, lands them in history and stops', async () => {
    app = await startApp()
    key = await createTenant(app, { id: 'dash', timezone: TZ, currency: 'USD' })
    const patch = await fetch(`${app.url}/v1/settings`, {
      method: 'PATCH',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ default_cogs_rate: DEFAULT_COGS_RATE, fees: { monthly_retainer: MONTHLY_RETAINER } }),
    })
    expect(patch.status).toBe(200)
    const upload = await fetch(`${app.url}/v1/settings/sku-costs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'text/csv' },
      body: `sku,cost\n${SKU_COST.sku},${SKU_COST.cost}\n`,
    })
    expect(upload.status).toBe(200)
    for (let i = 0; i < phaseA.length; i += 10_000) {
      const res = await postEvents(
        app,
        key,
        phaseA.slice(i, i + 10_000).map((e, j) => wire(e, i + j)),
      )
      expect(res.status).toBe(202)
    }
    const partial = expectedFor(replay(phaseA)).kpis(ALL, 'transaction_date')
    await waitFor(
      async () => {
        const { body } = await getJson(app!, key, `/v1/metrics/kpis?${q(ALL)}`, kpisAnswer)
        return body.gmv === partial.gmv &&
          body.ad_spend === partial.ad_spend &&
          body.marketing_cost === partial.marketing_cost &&
          body.refunds === partial.refunds &&
          body.cancelled_orders === partial.cancelled_orders
          ? body
          : undefined
      },
      'the first events applied',
      60_000,
    )
    await app.kill('SIGTERM') // a graceful stop lands everything in history
  })

  it('with late arrivals in live state (before a flush), every figure equals the independent computation', async () => {
    app = await startApp({ dataDir: app!.dataDir, env: { FLUSH_INTERVAL_MS: '60000' } })
    expect(
      (
        await postEvents(
          app,
          key,
          tail.map((e, j) => wire(e, phaseA.length + j)),
        )
      ).status,
    ).toBe(202)
    const totals = expected.kpis(ALL, 'transaction_date')
    await waitFor(async () => {
      const { body } = await getJson(app!, key, `/v1/metrics/kpis?${q(ALL)}`, kpisAnswer)
      return body.marketing_cost === totals.marketing_cost ? body : undefined
    }, 'the tail applied')
    // The tail is in live state only: history holds the settings and the first events.
    const sql = await fetch(`${app.url}/v1/sql`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ query: 'SELECT count() AS n FROM events' }),
    })
    expect(sql.status).toBe(200)
    expect(Number((await readAnswer(sql, sqlJsonResult, 'POST /v1/sql')).body.data[0].n)).toBe(phaseA.length + 2)

    // Every answer first (the restart test compares with them), then every comparison.
    for (const [path] of checks) {
      const { status, body } = await getJson(app, key, path, schemaOf(path))
      expect(status, path).toBe(200)
      answers.set(path, body)
    }
    for (const [path, want, pick] of checks)
      expect.soft((pick ?? ((b: unknown) => b))(answers.get(path)), path).toEqual(want())
    // The master dashboard's intent figures are the intent dashboard's (its engineer tests them).
    // Answers were read with their schemas when fetched.
    const overview = answers.get(`/v1/dashboards/overview?${q(ALL)}`) as z.output<typeof overviewAnswer>
    const intent = await getJson(
      app,
      key,
      `/v1/dashboards/intent?as_of=${encodeURIComponent(iso(AS_OF))}`,
      intentResponse,
    )
    expect(intent.status).toBe(200)
    expect(overview.users_tracked).toBe(intent.body.users_tracked)
    expect(overview.high_intent_users).toBe(intent.body.users_by_level.high)
    expect(overview.revenue_opportunities).toEqual(intent.body.revenue_opportunity)
    // Description lines name the order they are about.
    const feed = answers.get('/v1/activity?limit=500') as z.output<typeof activityAnswer>
    for (const item of feed.items)
      if (item.type === 'order.created') expect(item.description).toContain(item.event_id.replace(/^e-/, ''))
  })

  it('serves the dashboards as live topics: the same objects as the routes', async () => {
    const live = await connectLive(app!, key)
    try {
      const ads = `dashboard:ads?brand=nike&${new URLSearchParams({ from: iso(ALL.from), to: iso(ALL.to) })}`
      live.send({
        op: 'subscribe',
        topics: [
          'activity',
          'dashboard:overview',
          'dashboard:profit',
          'dashboard:funnel',
          ads,
          'dashboard:ads?colour=red',
        ],
      })
      // Snapshots come in any order: look through everything received.
      const snapshot = (topic: string) =>
        waitFor(
          async () => live.messages.find((m) => m.type === 'snapshot' && m.topic === topic),
          `snapshot of ${topic}`,
        )
      expect((await snapshot('activity')).data).toEqual(answers.get('/v1/activity?limit=50'))
      const adsData = (await snapshot(ads)).data
      const { as_of: _a, ...adsFigures } = adsData
      const nike = answers.get(`/v1/dashboards/ads?${q(ALL, '&brand=nike')}`) as z.output<typeof adsAnswer>
      const { as_of: _b, ...httpFigures } = nike
      expect(adsFigures).toEqual(httpFigures)
      for (const topic of ['dashboard:overview', 'dashboard:profit', 'dashboard:funnel']) {
        const { data } = await snapshot(topic)
        expect(Date.parse(data.to) - Date.parse(data.from)).toBeLessThanOrEqual(25 * 3_600_000) // today so far
        expect(data.currency).toBe('USD')
      }
      expect(
        await waitFor(async () => live.messages.find((m) => m.type === 'error'), 'an error for an unknown filter'),
      ).toMatchObject({ type: 'error' })
    } finally {
      live.close()
    }
  })

  it('after a restart, with everything in history, every answer is identical', async () => {
    await app!.kill('SIGTERM')
    app = await startApp({ dataDir: app!.dataDir })
    for (const [path] of checks) {
      const { status, body } = await getJson(app, key, path, schemaOf(path))
      expect(status, path).toBe(200)
      expect.soft(body, path).toEqual(answers.get(path))
    }
  })

  it('refuses bad parameters and other tenants; today’s topics update when an event arrives', async () => {
    expect((await getJson(app!, key, '/v1/dashboards/profit?view=weekly', errorSchema)).status).toBe(400)
    expect(
      (
        await getJson(
          app!,
          key,
          `/v1/dashboards/ads?from=${encodeURIComponent(iso(SPRING.to))}&to=${encodeURIComponent(iso(SPRING.from))}`,
          errorSchema,
        )
      ).status,
    ).toBe(400)
    expect((await getJson(app!, key, '/v1/activity?limit=0', errorSchema)).status).toBe(400)
    expect((await getJson(app!, 'pk_nobody', '/v1/dashboards/overview', errorSchema)).status).toBe(401)
    const other = await createTenant(app!, { id: 'dash-other', timezone: TZ, currency: 'USD' })
    const { body } = await getJson(app!, other, `/v1/dashboards/overview?${q(ALL)}`, overviewAnswer)
    expect(body).toMatchObject({ gmv: '0.00', orders: 0, users_tracked: 0 })
    expect((await getJson(app!, other, '/v1/activity', activityAnswer)).body.items).toEqual([])

    // Today's topics update when an event arrives.
    const live = await connectLive(app!, other)
    try {
      live.send({ op: 'subscribe', topics: ['activity', 'dashboard:overview', 'dashboard:funnel'] })
      await waitFor(
        async () => (live.messages.filter((m) => m.type === 'snapshot').length === 3 ? true : undefined),
        'three snapshots',
      )
      const order = {
        id: 'now-1',
        type: 'order.created',
        ts: Date.now(),
        source: 'shopify',
        order_id: 'now-1',
        customer_id: 'c-now',
        total: '42.00',
        subtotal: '40.00',
        channel: 'google',
        items: [{ sku: 'x', quantity: 1, price: '40.00' }],
      }
      expect((await postEvents(app!, other, [order])).status).toBe(202)
      // Updates of the three topics come in any order: look through everything received.
      const updated = await waitFor(
        async () =>
          live.messages.find((m) => m.type === 'update' && m.topic === 'dashboard:overview' && m.data.gmv === '42.00'),
        'an overview update',
      )
      expect(updated.data).toMatchObject({
        orders: 1,
        attributed_revenue: '42.00',
        attributed_share: 1,
        users_tracked: 1,
      })
      await waitFor(
        async () =>
          live.messages.find(
            (m) => m.type === 'update' && m.topic === 'activity' && m.data.items[0]?.event_id === 'now-1',
          ),
        'an activity update',
      )
      await waitFor(
        async () =>
          live.messages.find((m) => m.topic === 'dashboard:funnel' && m.data.days.at(-1).steps[3].count === 1),
        'a funnel update',
      )
    } finally {
      live.close()
    }
  })
})
