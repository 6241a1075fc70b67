// New, returning and guest figures (docs/metrics.md, "New and returning customers") in the KPI
// answer, the daily, compare and sources routes and the `kpis` live topic: customers whose first
// order lies before and inside the range, guests, a cancelled first order, refunds, and an edit
// moving an order to another customer, each figure against a plain computation, live and after a
// restart.
import { afterAll, describe, expect, it } from 'vitest'
import { compareAnswer, dailyAnswer, sourcesAnswer } from '../../query/dashboards/schemas.ts'
import { kpisAnswer } from '../../query/metrics-routes.ts'
import { type App, connectLive, createTenant, getJson, postEvents, startApp, waitFor } from './harness.ts'

const at = (text: string) => Date.parse(`2026-${text}Z`)
const FROM = at('11-10T00:00:00')
const TO = at('11-13T00:00:00')
const DAY = 86_400_000

interface Order {
  id: string
  customer: string
  ts: number
  figuresTs: number
  total: number
  subtotal: number
}
interface Refund {
  order: string
  ts: number
  amount: number
  subtotal: number
}

const cents = (money: string) => Math.round(Number(money) * 100)
const money = (minor: number) => `${minor < 0 ? '-' : ''}${(Math.abs(minor) / 100).toFixed(2)}`
let eventNo = 0

function orderEvent(type: string, id: string, ts: string, customer: string | null, total: string, subtotal: string) {
  return {
    id: `e-${++eventNo}`,
    type,
    ts: at(ts),
    source: 'shopify',
    order_id: id,
    ...(customer ? { customer_id: customer } : {}),
    channel: 'organic',
    total,
    subtotal,
  }
}
const created = (id: string, ts: string, customer: string | null, total: string, subtotal = total) =>
  orderEvent('order.created', id, ts, customer, total, subtotal)
const refund = (order: string, ts: string, amount: string, subtotal = amount) => ({
  id: `e-${++eventNo}`,
  type: 'refund.created',
  ts: at(ts),
  source: 'shopify',
  order_id: order,
  refund_id: `rf-${eventNo}`,
  amount,
  subtotal,
})
const cancelled = (order: string, ts: string) => ({
  id: `e-${++eventNo}`,
  type: 'order.cancelled',
  ts: at(ts),
  source: 'shopify',
  order_id: order,
})

const first = [
  // Returning: ordered before the range (and refunded in it), and in it.
  created('o-old-1', '10-01T09:00:00', 'c-old', '100.00', '90.00'),
  created('o-old-2', '11-10T09:00:00', 'c-old', '45.55', '40.05'),
  refund('o-old-1', '11-11T09:00:00', '3.00', '2.70'),
  // New: a cancelled first order in the range is still the first; the second is on another day.
  created('o-can-1', '11-11T10:00:00', 'c-cancel', '20.00'),
  cancelled('o-can-1', '11-11T11:00:00'),
  created('o-can-2', '11-12T08:00:00', 'c-cancel', '31.10', '30.00'),
  // Returning: a cancelled first order before the range.
  created('o-cb-1', '11-01T10:00:00', 'c-cancel-before', '12.00'),
  cancelled('o-cb-1', '11-01T12:00:00'),
  created('o-cb-2', '11-10T12:00:00', 'c-cancel-before', '18.25'),
  // New, with a refund in the range and one after it.
  created('o-new', '11-10T15:00:00', 'c-new', '77.77', '70.00'),
  refund('o-new', '11-12T09:00:00', '5.00', '4.00'),
  refund('o-new', '11-20T09:00:00', '7.00'),
  // Guests, one refunded.
  created('o-guest-1', '11-11T13:00:00', null, '9.99'),
  created('o-guest-2', '11-08T13:00:00', null, '4.00'),
  refund('o-guest-1', '11-12T10:00:00', '2.50'),
  // New in the previous period (compare), returning in the range.
  created('o-prev-1', '11-08T08:00:00', 'c-prev', '60.00', '55.00'),
  created('o-prev-2', '11-12T11:00:00', 'c-prev', '15.00'),
  // c-x ordered before the range and in it; c-moved only in it (new) until the edit below.
  created('o-x-1', '10-20T10:00:00', 'c-x', '33.00'),
  created('o-x-2', '11-11T14:00:00', 'c-x', '44.00'),
  created('o-moved', '11-12T10:00:00', 'c-moved', '25.00', '21.00'),
]
// The order of 20 October was c-moved's, not c-x's: c-x becomes new and c-moved returning.
const edit = [orderEvent('order.updated', 'o-x-1', '11-12T12:00:00', 'c-moved', '33.00', '33.00')]

function replay(events: any[]) {
  const orders = new Map<string, Order>()
  const refunds: Refund[] = []
  for (const e of events) {
    if (e.type === 'order.created' || e.type === 'order.updated') {
      const old = orders.get(e.order_id)
      const figures = { customer: e.customer_id ?? '', total: cents(e.total), subtotal: cents(e.subtotal) }
      if (!old) orders.set(e.order_id, { id: e.order_id, ts: e.ts, figuresTs: e.ts, ...figures })
      else if (e.ts >= old.figuresTs) orders.set(e.order_id, { ...old, ...figures, figuresTs: e.ts })
    }
    if (e.type === 'refund.created')
      refunds.push({ order: e.order_id, ts: e.ts, amount: cents(e.amount), subtotal: cents(e.subtotal) })
  }
  return { orders: [...orders.values()], refunds }
}

/** The plain computation: groups over [from, to) (all instants here are whole minutes). */
function groups(s: ReturnType<typeof replay>, from: number, to: number, view: string) {
  const inRange = (ts: number) => ts >= from && ts < to
  const firstOf = (c: string) => Math.min(...s.orders.filter((o) => o.customer === c).map((o) => o.ts))
  const groupOf = (o: Order) => (!o.customer ? 'guest' : firstOf(o.customer) >= from ? 'new' : 'returning')
  const zero = () => ({ customers: new Set<string>(), orders: 0, gmv: 0, net: 0 })
  const g = { new: zero(), returning: zero(), guest: zero() }
  for (const o of s.orders.filter((o) => inRange(o.ts))) {
    g[groupOf(o)].orders++
    g[groupOf(o)].gmv += o.total
    g[groupOf(o)].net += o.subtotal
    if (o.customer) g[groupOf(o)].customers.add(o.customer)
  }
  for (const r of s.refunds) {
    const o = s.orders.find((o) => o.id === r.order)!
    if (inRange(view === 'order_date' ? o.ts : r.ts)) g[groupOf(o)].net -= r.subtotal
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
const FIELDS = Object.keys(groups({ orders: [], refunds: [] }, 0, 1, 'transaction_date'))
const pick = (body: Record<string, unknown>) => Object.fromEntries(FIELDS.map((k) => [k, body[k]]))
const change = (c: number, p: number) => (p === 0 ? null : (c - p) / p)
const num = (v: unknown) => (typeof v === 'string' ? cents(v) : (v as number))

let app: App | undefined
afterAll(async () => app?.kill())

describe('new and returning customers', () => {
  let key = ''
  const q = (extra = '') =>
    `from=${new Date(FROM).toISOString()}&to=${new Date(TO).toISOString()}&as_of=${new Date(TO).toISOString()}${extra}`

  /** Every route's figures against the plain computation over `events`; the answers, for after a restart. */
  async function check(events: any[]): Promise<unknown[]> {
    const s = replay(events)
    const answers: unknown[] = []
    for (const view of ['transaction_date', 'order_date']) {
      const v = `&view=${view}`
      const kpis = (await getJson(app!, key, `/v1/metrics/kpis?${q(v)}`, kpisAnswer)).body
      const want = groups(s, FROM, TO, view)
      expect(pick(kpis), `kpis ${view}`).toEqual(want)
      // The groups add up to the KPIs (no refund here is of an order not seen).
      expect(kpis.orders).toBe(want.new_orders + want.returning_orders + want.guest_orders)
      expect(cents(kpis.gmv as string)).toBe(cents(want.new_gmv) + cents(want.returning_gmv) + cents(want.guest_gmv))
      expect(cents(kpis.net_sales as string)).toBe(
        cents(want.new_net_sales) + cents(want.returning_net_sales) + cents(want.guest_net_sales),
      )

      const daily = (await getJson(app!, key, `/v1/metrics/daily?${q(v)}`, dailyAnswer)).body
      expect(daily.days.map((d) => d.day)).toEqual(['2026-11-10', '2026-11-11', '2026-11-12'])
      daily.days.forEach((d, i) =>
        expect(pick(d.total), `daily ${d.day} ${view}`).toEqual(groups(s, FROM + i * DAY, FROM + (i + 1) * DAY, view)),
      )

      const compare = (await getJson(app!, key, `/v1/metrics/compare?${q(v)}`, compareAnswer)).body
      const previous = groups(s, FROM - (TO - FROM), FROM, view)
      expect(pick(compare.current), `compare current ${view}`).toEqual(want)
      expect(pick(compare.previous), `compare previous ${view}`).toEqual(previous)
      expect(previous.new_customers).toBeGreaterThan(0)
      for (const f of FIELDS)
        expect(compare.change[f], `change ${f}`).toBe(
          change(num(want[f as keyof typeof want]), num(previous[f as keyof typeof previous])),
        )

      const sources = (await getJson(app!, key, `/v1/metrics/sources?${q(v)}`, sourcesAnswer)).body
      expect(pick(sources.total), `sources ${view}`).toEqual(want)
      answers.push(kpis, daily, compare, sources)
    }
    // The live topic carries the same answer.
    const live = await connectLive(app!, key)
    const topic = `kpis?from=${new Date(FROM).toISOString()}&to=${new Date(TO).toISOString()}`
    live.send({ op: 'subscribe', topics: [topic] })
    const snapshot = await live.find((m) => m.type === 'snapshot' && m.topic === topic, 'kpis snapshot')
    expect(pick(snapshot.data)).toEqual(groups(s, FROM, TO, 'transaction_date'))
    live.close()
    return answers.map((a) => {
      const { freshness: _f, ...rest } = a as Record<string, unknown>
      return rest
    })
  }

  const waitApplied = (events: any[]) => {
    const want = groups(replay(events), FROM, TO, 'transaction_date')
    return waitFor(async () => {
      const { body } = await getJson(app!, key, `/v1/metrics/kpis?${q()}`, kpisAnswer)
      return JSON.stringify(pick(body)) === JSON.stringify(want) ? body : undefined
    }, 'the events applied')
  }

  let before: unknown[] = []
  it('splits the range’s orders, GMV and net sales into new, returning and guest, as a plain computation does', async () => {
    app = await startApp()
    key = await createTenant(app, { id: 'nr', timezone: 'UTC', currency: 'USD' })
    expect((await postEvents(app, key, first)).status).toBe(202)
    await waitApplied(first)
    const s = groups(replay(first), FROM, TO, 'transaction_date')
    // The data set has each group: c-old, c-cancel-before, c-prev, c-x returning; c-cancel, c-new, c-moved new.
    expect([s.new_customers, s.returning_customers, s.guest_orders]).toEqual([3, 4, 1])
    await check(first)
  })

  it('follows an edit that moves an order to another customer, at once and after a restart', async () => {
    const all = [...first, ...edit]
    expect((await postEvents(app!, key, edit)).status).toBe(202)
    await waitApplied(all)
    const s = groups(replay(all), FROM, TO, 'transaction_date')
    expect([s.new_customers, s.returning_customers]).toEqual([3, 4]) // c-x new, c-moved returning now
    const was = groups(replay(first), FROM, TO, 'transaction_date')
    expect([s.new_gmv, s.returning_gmv]).not.toEqual([was.new_gmv, was.returning_gmv])
    before = await check(all)
    await app!.kill('SIGTERM')
    app = await startApp({ dataDir: app!.dataDir })
    await waitApplied(all)
    expect(await check(all)).toEqual(before)
  })
})
