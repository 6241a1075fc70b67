// Brand and store (docs/brands.md) against the real app: orders of several brands with unbranded
// lines, discounts, tax and shipping to split, an edit changing the lines, refunds with and without
// items (one before its order), a cancellation, fees with and without an order, ad spend with and
// without a brand, two stores. For every brand and store the KPIs (both views), the profit and the
// ads dashboards equal a plain computation here (its own largest-remainder split) to the cent; the
// tenant-wide figures are what they were; the same after a checkpoint and a restart.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { checkpointAnswer } from '../../query/checkpoint-route.ts'
import { adsAnswer, profitAnswer } from '../../query/dashboards/schemas.ts'
import { kpisAnswer } from '../../query/metrics-routes.ts'
import {
  ADMIN_TOKEN,
  type App,
  createTenant,
  errorSchema,
  getJson,
  postEvents,
  send,
  startApp,
  waitFor,
} from './harness.ts'

const at = (time: string) => Date.parse(`2026-11-20T${time}Z`)
const range = 'from=2026-11-20T00:00:00.000Z&to=2026-11-21T00:00:00.000Z&as_of=2026-11-21T00:00:00.000Z'
const money = (minor: number) => `${minor < 0 ? '-' : ''}${(Math.abs(minor) / 100).toFixed(2)}`
let n = 0
const id = () => `br-${++n}`

// ── the plain model ─────────────────────────────
type Line = { sku: string; brand?: string; quantity: number; price: number }
interface Order {
  id: string
  store: string
  channel: string
  lines: Line[]
  total: number
  subtotal: number
  discounts: number
  tax: number
  shipping: number
  fees: number
}

/** Largest remainder; ties to the brand first in code-unit order. */
function split(amount: number, weights: Map<string, number>): Map<string, number> {
  const brands = [...weights.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
  let sum = brands.reduce((s, b) => s + weights.get(b)!, 0)
  const w = new Map(brands.map((b) => [b, sum === 0 ? 1 : weights.get(b)!]))
  if (sum === 0) sum = brands.length
  const sign = amount < 0 ? -1 : 1
  const m = Math.abs(amount)
  const out = new Map(brands.map((b) => [b, Math.floor((m * w.get(b)!) / sum)]))
  const rem = new Map(brands.map((b) => [b, (m * w.get(b)!) % sum]))
  let left = m - [...out.values()].reduce((s, x) => s + x, 0)
  for (const b of [...brands].sort((x, y) => rem.get(y)! - rem.get(x)! || (x < y ? -1 : 1)))
    if (left-- > 0) out.set(b, out.get(b)! + 1)
  return new Map([...out].map(([b, x]) => [b, sign * x]))
}
function weightsOf(o: Order): Map<string, number> {
  const w = new Map<string, number>()
  for (const l of o.lines) w.set(l.brand ?? '', (w.get(l.brand ?? '') ?? 0) + l.price * l.quantity)
  return new Map([...w].filter(([, x]) => x > 0))
}

// nike, adidas and an unbranded bag; the edit makes it one shoe and two tees.
const o1: Order = {
  id: 'o-1',
  store: 'north',
  channel: 'facebook',
  lines: [
    { sku: 'shoe', brand: 'nike', quantity: 1, price: 4000 },
    { sku: 'tee', brand: 'adidas', quantity: 2, price: 3000 },
    { sku: 'bag', quantity: 1, price: 1000 },
  ],
  total: 12801,
  subtotal: 11000,
  discounts: 333,
  tax: 1101,
  shipping: 1033,
  fees: 299,
}
const o1Before: Order = {
  ...o1,
  lines: [
    { sku: 'shoe', brand: 'nike', quantity: 2, price: 4000 },
    { sku: 'tee', brand: 'adidas', quantity: 1, price: 3000 },
  ],
  total: 11500,
  subtotal: 11000,
  discounts: 0,
  tax: 500,
  shipping: 0,
  fees: 100,
}
const o2: Order = {
  id: 'o-2',
  store: 'south',
  channel: 'organic',
  lines: [
    { sku: 'cap', brand: 'nike', quantity: 1, price: 2500 },
    { sku: 'sock', brand: 'puma', quantity: 3, price: 500 },
  ],
  total: 4333,
  subtotal: 4000,
  discounts: 0,
  tax: 333,
  shipping: 0,
  fees: 0,
}
interface Refund {
  order: Order
  amount: number
  subtotal: number
  fees: number
  items?: { sku: string; quantity: number; subtotal: number; brand: string }[]
}
const refunds: Refund[] = [
  { order: o1, amount: 2001, subtotal: 1700, fees: 50 },
  {
    order: o1,
    amount: 3300,
    subtotal: 3000,
    fees: 0,
    items: [{ sku: 'tee', quantity: 1, subtotal: 3000, brand: 'adidas' }],
  },
  {
    order: o2,
    amount: 1000,
    subtotal: 1000,
    fees: 0,
    items: [{ sku: 'sock', quantity: 2, subtotal: 1000, brand: 'puma' }],
  },
]
const feeOnO2 = 111
const feeNorth = 200
const spendNike = 2000
const spendNone = 500
const cogsRate = 0.4

interface Fig {
  gmv: number
  orders: number
  units: number
  subtotal: number
  refunds: number
  refundSubtotal: number
  cancelled: number
  attributed: number
  spend: number
  fees: number
  cogs: number
  shippingCost: number
}
const zero = (): Fig => ({
  gmv: 0,
  orders: 0,
  units: 0,
  subtotal: 0,
  refunds: 0,
  refundSubtotal: 0,
  cancelled: 0,
  attributed: 0,
  spend: 0,
  fees: 0,
  cogs: 0,
  shippingCost: 0,
})

/** The figures of one brand (undefined: all, counting each order once) and store (undefined: all). */
function expected(brand?: string, store?: string): Fig {
  const f = zero()
  const mine = (o: Order) => store === undefined || o.store === store
  for (const o of [o1, o2]) {
    if (!mine(o)) continue
    const w = weightsOf(o)
    const share = (x: number) => (brand === undefined ? x : (split(x, w).get(brand) ?? 0))
    if (brand === undefined || w.has(brand)) f.orders++
    f.gmv += share(o.total)
    f.subtotal += share(o.subtotal)
    f.shippingCost += share(o.shipping)
    f.fees += share(o.fees)
    if (o.channel !== 'organic') f.attributed += share(o.total)
    for (const l of o.lines)
      if (brand === undefined || (l.brand ?? '') === brand) {
        f.units += l.quantity
        f.cogs += Math.round(l.price * l.quantity * cogsRate)
      }
    if (o === o2) {
      f.fees += share(feeOnO2)
      if (brand === undefined || w.has(brand)) f.cancelled++
    }
  }
  for (const r of refunds) {
    if (!mine(r.order)) continue
    const w = weightsOf(r.order)
    const items = r.items ?? []
    const itemSum = items.reduce((s, i) => s + i.subtotal, 0)
    const mineItems = items.filter((i) => brand === undefined || i.brand === brand).reduce((s, i) => s + i.subtotal, 0)
    const rest = (x: number) => (brand === undefined ? x : (split(x, w).get(brand) ?? 0))
    f.refunds += mineItems + rest(r.amount - itemSum)
    f.refundSubtotal += mineItems + rest(r.subtotal - itemSum)
    f.fees -= rest(r.fees)
  }
  if (store === undefined || store === 'north') {
    if (brand === undefined) f.fees += feeNorth
    if (brand === undefined || brand === 'nike') f.spend += spendNike
    if (brand === undefined) f.spend += spendNone
  }
  return f
}

// ── the events ───────────────────────────────────
const major = (minor: number) => (minor / 100).toFixed(2)
const orderEvent = (type: string, o: Order, time: string) => ({
  id: id(),
  type,
  ts: at(time),
  source: 'shopify',
  order_id: o.id,
  store: o.store,
  channel: o.channel,
  ...(o.channel === 'organic' ? {} : { campaign_id: 'fb-1' }),
  total: major(o.total),
  subtotal: major(o.subtotal),
  discounts: major(o.discounts),
  tax: major(o.tax),
  shipping: major(o.shipping),
  fees: major(o.fees),
  items: o.lines.map((l) => ({ sku: l.sku, brand: l.brand, quantity: l.quantity, price: major(l.price) })),
})
const refundEvent = (r: Refund, refundId: string, time: string) => ({
  id: id(),
  type: 'refund.created',
  ts: at(time),
  source: 'shopify',
  order_id: r.order.id,
  refund_id: refundId,
  store: r.order.store,
  amount: major(r.amount),
  subtotal: major(r.subtotal),
  fees: major(r.fees),
  ...(r.items
    ? { items: r.items.map((i) => ({ sku: i.sku, quantity: i.quantity, subtotal: major(i.subtotal) })) }
    : {}),
})
const spend = (campaign: string, amount: number, brand?: string) => ({
  id: id(),
  type: 'ad.spend',
  ts: at('08:00:00'),
  source: 'meta_ads',
  platform: 'facebook',
  campaign_id: campaign,
  store: 'north',
  spend: major(amount),
  ...(brand ? { brand } : {}),
})
const events = [
  // The refund of o-2 arrives before its order: it waits on channel unknown, then splits.
  refundEvent(refunds[2], 'r-3', '11:00:00'),
  orderEvent('order.created', o1Before, '09:00:00'),
  refundEvent(refunds[0], 'r-1', '12:00:00'),
  orderEvent('order.updated', o1, '09:30:00'),
  refundEvent(refunds[1], 'r-2', '13:00:00'),
  orderEvent('order.created', o2, '10:00:00'),
  { id: id(), type: 'order.cancelled', ts: at('14:00:00'), source: 'shopify', order_id: 'o-2', store: 'south' },
  {
    id: id(),
    type: 'fee.charged',
    ts: at('15:00:00'),
    source: 'stripe',
    amount: major(feeOnO2),
    kind: 'pay',
    order_id: 'o-2',
  },
  {
    id: id(),
    type: 'fee.charged',
    ts: at('15:30:00'),
    source: 'stripe',
    amount: major(feeNorth),
    kind: 'payout',
    store: 'north',
  },
  spend('fb-1', spendNike, 'nike'),
  spend('fb-2', spendNone),
]

let app: App | undefined
let key = ''
afterAll(async () => app?.kill())

const BRANDS = ['nike', 'adidas', 'puma', '']
const FILTERS: { brand?: string; store?: string }[] = [
  {},
  { store: 'north' },
  { store: 'south' },
  ...BRANDS.filter((b) => b !== '').flatMap((brand) => [
    { brand },
    { brand, store: 'north' },
    { brand, store: 'south' },
  ]),
]
const query = (f: { brand?: string; store?: string }) =>
  `${range}${f.brand !== undefined ? `&brand=${f.brand}` : ''}${f.store !== undefined ? `&store=${f.store}` : ''}`

async function checkAll() {
  for (const f of FILTERS) {
    const e = expected(f.brand, f.store)
    const netSales = e.subtotal - e.refundSubtotal
    for (const view of ['transaction_date', 'order_date']) {
      const kpis = (await getJson(app!, key, `/v1/metrics/kpis?${query(f)}&view=${view}`, kpisAnswer)).body
      expect(kpis, `${JSON.stringify(f)} ${view}`).toMatchObject({
        gmv: money(e.gmv),
        orders: e.orders,
        units: e.units,
        refunds: money(e.refunds),
        cancelled_orders: e.cancelled,
        net_sales: money(netSales),
        attributed_revenue: money(e.attributed),
        ad_spend: money(e.spend),
        cogs: money(e.cogs),
        fees: money(e.fees),
      })
      const profit = (await getJson(app!, key, `/v1/dashboards/profit?${query(f)}&view=${view}`, profitAnswer)).body
      expect(profit, `profit ${JSON.stringify(f)} ${view}`).toMatchObject({
        net_sales: money(netSales),
        cogs: money(e.cogs),
        ad_spend: money(e.spend),
        fees: money(e.fees),
      })
    }
    const ads = (await getJson(app!, key, `/v1/dashboards/ads?${query(f)}`, adsAnswer)).body
    expect(ads, `ads ${JSON.stringify(f)}`).toMatchObject({ ad_spend: money(e.spend), ad_revenue: money(e.attributed) })
  }
  // Per brand in the tenant's ads dashboard: the brand's share of attributed orders; spend without a brand unassigned.
  const ads = (await getJson(app!, key, `/v1/dashboards/ads?${range}`, adsAnswer)).body
  expect(ads.unassigned_ad_spend).toBe(money(spendNone))
  const nike = ads.by_brand.find((b) => b.brand === 'nike')!
  expect(nike).toMatchObject({ ad_spend: money(spendNike), ad_revenue: money(expected('nike').attributed) })
}

describe('brand and store', () => {
  beforeAll(async () => {
    app = await startApp()
    key = await createTenant(app, { id: 'brands', timezone: 'UTC', currency: 'USD' })
    expect((await postEvents(app, key, events)).status).toBe(202)
    const all = expected()
    await waitFor(async () => {
      const { body } = await getJson(app!, key, `/v1/metrics/kpis?${range}`, kpisAnswer)
      return body.fees === money(all.fees) && body.ad_spend === money(all.spend) && body.cancelled_orders === 1
        ? body
        : undefined
    }, 'the events applied')
  }, 120_000)

  it('each order’s brand shares sum to the order; every brand and store reads its plain split', async () => {
    for (const o of [o1, o2]) {
      const w = weightsOf(o)
      for (const amount of [o.total, o.subtotal, o.discounts, o.tax, o.shipping, o.fees])
        expect([...split(amount, w).values()].reduce((s, x) => s + x, 0)).toBe(amount)
    }
    // Tenant-wide money is the sum over brands; orders count once each.
    const all = expected()
    const brands = BRANDS.map((b) => expected(b))
    for (const k of ['gmv', 'subtotal', 'refunds', 'refundSubtotal', 'attributed', 'cogs'] as const)
      expect(brands.reduce((s, b) => s + b[k], 0)).toBe(all[k])
    expect(all.orders).toBe(2)
    await checkAll()
  })

  it('refuses a brand of 300 characters naming the parameter', async () => {
    for (const path of ['/v1/metrics/kpis', '/v1/dashboards/ads', '/v1/dashboards/profit']) {
      const res = await getJson(app!, key, `${path}?${range}&brand=${'b'.repeat(300)}`, errorSchema)
      expect(res.status).toBe(400)
      expect(res.body.error.message).toContain('brand')
    }
  })

  it('is the same after a checkpoint and a restart', async () => {
    const taken = await send(app!, ADMIN_TOKEN, 'POST', '/v1/admin/checkpoints', checkpointAnswer)
    expect(taken.status).toBe(200)
    await app!.kill('SIGTERM')
    app = await startApp({ dataDir: app!.dataDir })
    await waitFor(async () => {
      const { status, body } = await getJson(app!, key, `/v1/metrics/kpis?${range}`, kpisAnswer)
      return status === 200 && body.fees === money(expected().fees) ? body : undefined
    }, 'the app back')
    await checkAll()
  }, 120_000)
})
