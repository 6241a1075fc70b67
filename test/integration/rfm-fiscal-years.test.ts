// The RFM dashboard's fiscal_year_data and its value-bucket filters (docs/metrics.md, "RFM"), for a
// tenant in India (UTC+05:30) with customers over four fiscal years: every entry against a plain
// count in this file, while the data is live (a long flush interval), on the live topic, after a
// restart that rebuilds state from history, and after a change of the start month.
import { afterAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { rfmResponse } from '../../query/customer-routes.ts'
import * as h from './harness.ts'

const ZONE = 'Asia/Kolkata'
const DAY = 86_400_000
const AS_OF = Date.parse('2026-11-01T00:00:00+05:30')
const q = (params: Record<string, string | number>) =>
  new URLSearchParams(Object.entries(params).map(([k, v]) => [k, String(v)])).toString()

type Ev = Record<string, unknown> & { id: string; type: string; ts: string }

/** Orders as they stand (customer of the newest edit, window at creation), in paise. */
interface Order {
  customer?: string
  ts: number
  total: number
}

function generate(): { events: Ev[]; orders: Map<string, Order> } {
  let seed = 20_260_401
  const random = () => {
    seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648
    return seed / 2_147_483_648
  }
  const events: Ev[] = []
  const orders = new Map<string, Order>()
  let n = 0
  const order = (customer: string | undefined, ts: number, total = 100 + Math.floor(random() * 2_900)) => {
    const id = `o${++n}`
    events.push({
      id: `e-${id}`,
      type: 'order.created',
      ts: new Date(ts).toISOString(),
      source: 'shopify',
      order_id: id,
      ...(customer ? { customer_id: customer } : {}),
      total: `${total}.00`,
      subtotal: `${total}.00`,
      items: [{ sku: 'sku', quantity: 1, price: `${total}.00` }],
    })
    orders.set(id, { customer, ts, total: total * 100 })
    return id
  }
  const first = Date.parse('2023-04-10T00:00:00+05:30')
  const last = Date.parse('2026-11-20T00:00:00+05:30')
  for (let c = 0; c < 70; c++) {
    const id = `c${String(c).padStart(2, '0')}`
    let ts = first + Math.floor(random() * (last - first - 30 * DAY))
    order(id, ts)
    for (let k = Math.floor(random() * 5); k > 0; k--) {
      ts += Math.floor(random() * 400 * DAY)
      if (ts < last) order(id, ts)
    }
  }
  // At the fiscal-year boundary in India: 1 April 2024 00:00 IST is still 31 March in UTC.
  order('edge-new', Date.parse('2024-04-01T00:00:00+05:30'))
  order('edge-new', Date.parse('2025-06-01T10:00:00+05:30'))
  // One second before it: new in FY2023-24, then old in FY2024-25 a second later.
  order('edge-before', Date.parse('2024-03-31T23:59:59+05:30'))
  order('edge-before', Date.parse('2024-04-01T00:00:00+05:30'))
  // A first order cancelled, and one refunded: they still count (as RFM's frequency does).
  const cancelled = order('cancelled-first', Date.parse('2023-12-01T10:00:00+05:30'))
  events.push({
    id: 'e-cancel',
    type: 'order.cancelled',
    ts: '2023-12-02T10:00:00+05:30',
    source: 'shopify',
    order_id: cancelled,
  })
  order('cancelled-first', Date.parse('2025-12-01T10:00:00+05:30'))
  const refunded = order('refunded', Date.parse('2025-05-05T10:00:00+05:30'), 800)
  events.push({
    id: 'e-refund',
    type: 'refund.created',
    ts: '2025-05-06T10:00:00+05:30',
    source: 'shopify',
    order_id: refunded,
    refund_id: 'r1',
    amount: '800.00',
  })
  // An edit moves an order to another customer: it counts for the new one only.
  const moved = order('mover-a', Date.parse('2024-08-01T10:00:00+05:30'), 500)
  events.push({
    id: 'e-move',
    type: 'order.updated',
    ts: '2024-08-02T10:00:00+05:30',
    source: 'shopify',
    order_id: moved,
    customer_id: 'mover-b',
    total: '500.00',
    subtotal: '500.00',
    items: [{ sku: 'sku', quantity: 1, price: '500.00' }],
  })
  orders.set(moved, { customer: 'mover-b', ts: Date.parse('2024-08-01T10:00:00+05:30'), total: 50_000 })
  order(undefined, Date.parse('2023-05-01T10:00:00+05:30')) // a guest: no customer
  return { events, orders }
}

const { events, orders } = generate()

/** Fiscal year (the calendar year it starts in) of an instant in India, read with Intl. */
function fiscalYear(ts: number, startMonth: number): number {
  const parts = new Intl.DateTimeFormat('en-US', { timeZone: ZONE, year: 'numeric', month: 'numeric' }).formatToParts(
    ts,
  )
  const year = Number(parts.find((p) => p.type === 'year')?.value)
  return Number(parts.find((p) => p.type === 'month')?.value) >= startMonth ? year : year - 1
}

interface Plain {
  id: string
  firstYear: number
  years: Set<number>
  first: number
  last: number
  frequency: number
  monetary: number
}

/** Each customer with orders in [from, to) before asOf; new in the year of the first order ever. */
function customersOf(asOf: number, startMonth: number, from = -Infinity, to = Infinity): Plain[] {
  const firstEver = new Map<string, number>()
  for (const o of orders.values())
    if (o.customer && o.ts < asOf) firstEver.set(o.customer, Math.min(firstEver.get(o.customer) ?? Infinity, o.ts))
  const byId = new Map<string, Plain>()
  for (const o of orders.values()) {
    if (!o.customer || o.ts >= asOf || o.ts < from || o.ts >= to) continue
    const c = byId.get(o.customer) ?? {
      id: o.customer,
      firstYear: fiscalYear(firstEver.get(o.customer) ?? 0, startMonth),
      years: new Set<number>(),
      first: Infinity,
      last: -Infinity,
      frequency: 0,
      monetary: 0,
    }
    byId.set(o.customer, c)
    c.years.add(fiscalYear(o.ts, startMonth))
    c.first = Math.min(c.first, o.ts)
    c.last = Math.max(c.last, o.ts)
    c.frequency++
    c.monetary += o.total
  }
  return [...byId.values()]
}

/** The years from that of the earliest order counted to that of the last instant covered. */
function yearsOf(all: Plain[], asOf: number, startMonth: number, to = Infinity): number[] {
  if (all.length === 0) return []
  const first = fiscalYear(Math.min(...all.map((c) => c.first)), startMonth)
  const last = fiscalYear(Math.min(asOf, to) - 1, startMonth)
  return Array.from({ length: last - first + 1 }, (_, k) => first + k)
}

const label = (year: number, startMonth: number) =>
  startMonth === 1 ? `FY${year}` : `FY${year}-${String((year + 1) % 100).padStart(2, '0')}`

function fiscalDataOf(list: Plain[], years: number[], startMonth: number) {
  return years.map((year) => {
    const fresh = list.filter((c) => c.years.has(year) && c.firstYear === year).length
    const old = list.filter((c) => c.years.has(year) && c.firstYear < year).length
    const total = fresh + old
    return {
      label: label(year, startMonth),
      new_customers: fresh,
      old_customers: old,
      new_pct: total === 0 ? null : (100 * fresh) / total,
      old_pct: total === 0 ? null : (100 * old) / total,
    }
  })
}

/** Whether a value falls in a bucket label (`0-200`, `1000+`, `3`). */
function inBucket(value: number, bucket: string): boolean {
  if (bucket.endsWith('+')) return value >= Number(bucket.slice(0, -1))
  const [low, high] = bucket.split('-').map(Number)
  return high === undefined ? value === low : value >= low && value < high
}
const BUCKETS = {
  r_value_bucket: (c: Plain, asOf: number) => Math.floor((asOf - c.last) / DAY),
  f_value_bucket: (c: Plain) => c.frequency,
  m_value_bucket: (c: Plain) => c.monetary / 100,
}
const noFilters = {
  customer_id: null,
  r: null,
  f: null,
  m: null,
  segment: null,
  r_value_bucket: null,
  f_value_bucket: null,
  m_value_bucket: null,
}

let app: h.App
let key: string
afterAll(async () => app?.kill())

const answers = new Map<string, unknown>()
async function rfm(params: Record<string, string | number>) {
  const path = `/v1/dashboards/rfm?${q(params)}`
  const { status, body } = await h.getJson(app, key, path, rfmResponse)
  expect(status, `${path}: ${JSON.stringify(body).slice(0, 300)}`).toBe(200)
  answers.set(path, body)
  return body
}

describe('RFM fiscal_year_data and value-bucket filters', () => {
  const asOf = new Date(AS_OF).toISOString()
  const all = customersOf(AS_OF, 4)

  it('loads customers over four fiscal years in India', async () => {
    app = await h.startApp({ env: { FLUSH_INTERVAL_MS: '60000' } })
    key = await h.createTenant(app, { id: 'fy', currency: 'INR', timezone: ZONE })
    expect(await h.postEvents(app, key, events)).toEqual({
      status: 202,
      body: { accepted: events.length, duplicates: 0 },
    })
    const range = q({ from: '2023-01-01T00:00:00Z', to: '2027-01-01T00:00:00Z' })
    await h.waitForKpis(app, key, range, (k) => k.orders === orders.size && k.cancelled_orders === 1, 60_000)
    // Every year has new and old customers, and the crafted ones are where they should be.
    const years = fiscalDataOf(all, yearsOf(all, AS_OF, 4), 4)
    expect(years.map((y) => y.label)).toEqual(['FY2023-24', 'FY2024-25', 'FY2025-26', 'FY2026-27'])
    expect(years.slice(1).every((y) => y.new_customers > 0 && y.old_customers > 0)).toBe(true)
    const byId = new Map(all.map((c) => [c.id, c]))
    expect(byId.get('edge-new')?.firstYear).toBe(2024)
    expect(byId.get('edge-before')?.firstYear).toBe(2023)
    expect(byId.get('mover-a')).toBeUndefined()
  })

  it('counts new and old customers per fiscal year, in the tenant’s zone, as computed plainly', async () => {
    const body = await rfm({ as_of: asOf })
    expect(body.fiscal_year_data).toEqual(fiscalDataOf(all, yearsOf(all, AS_OF, 4), 4))
    expect(body.filters).toEqual(noFilters)
    expect(body.kpi.total_customer).toBe(all.length)
    // The customer whose first order is the first instant of FY2024-25 in India is new in it.
    const edge = await rfm({ as_of: asOf, customer_id: 'edge-new' })
    expect(edge.fiscal_year_data.map((y) => [y.label, y.new_customers, y.old_customers])).toEqual([
      ['FY2023-24', 0, 0],
      ['FY2024-25', 1, 0],
      ['FY2025-26', 0, 1],
      ['FY2026-27', 0, 0],
    ])
    expect(edge.fiscal_year_data[0].new_pct).toBeNull()
    const cancelled = await rfm({ as_of: asOf, customer_id: 'cancelled-first' })
    expect(cancelled.fiscal_year_data.map((y) => [y.new_customers, y.old_customers])).toEqual([
      [1, 0],
      [0, 0],
      [0, 1],
      [0, 0],
    ])
  })

  it('with a date range: the years it covers; a customer is new only in the year of the first order ever', async () => {
    const from = Date.parse('2024-04-01T00:00:00+05:30')
    const to = Date.parse('2026-01-15T00:00:00+05:30')
    const inRange = customersOf(AS_OF, 4, from, to)
    const body = await rfm({ as_of: asOf, from: new Date(from).toISOString(), to: new Date(to).toISOString() })
    expect(body.fiscal_year_data).toEqual(fiscalDataOf(inRange, yearsOf(inRange, AS_OF, 4, to), 4))
    expect(body.fiscal_year_data.map((y) => y.label)).toEqual(['FY2024-25', 'FY2025-26'])
  })

  it('r_value_bucket, f_value_bucket, m_value_bucket: the same figures over the customers in that bucket', async () => {
    const unfiltered = await rfm({ as_of: asOf })
    const dataOf = {
      r_value_bucket: unfiltered.r_value_bucket_data,
      f_value_bucket: unfiltered.visits_data,
      m_value_bucket: unfiltered.value_data,
    }
    let checked = 0
    for (const [name, value] of Object.entries(BUCKETS) as [keyof typeof BUCKETS, (c: Plain, at: number) => number][]) {
      for (const bucket of dataOf[name]) {
        const kept = all.filter((c) => inBucket(value(c, AS_OF), bucket.label))
        expect(kept.length, `${name}=${bucket.label}`).toBe(bucket.count)
        const body = await rfm({ as_of: asOf, [name]: bucket.label })
        expect(body.filters).toEqual({ ...noFilters, [name]: bucket.label })
        expect(body.kpi.total_customer).toBe(kept.length)
        expect(body.fiscal_year_data, `${name}=${bucket.label}`).toEqual(fiscalDataOf(kept, yearsOf(all, AS_OF, 4), 4))
        if (kept.length > 0) checked++
      }
    }
    expect(checked).toBeGreaterThanOrEqual(12)
    // Two at once.
    const both = await rfm({ as_of: asOf, f_value_bucket: '2', m_value_bucket: '1000-2000' })
    const plainBoth = all.filter((c) => c.frequency === 2 && c.monetary >= 100_000 && c.monetary < 200_000)
    expect(plainBoth.length).toBeGreaterThan(0)
    expect(both.kpi.total_customer).toBe(plainBoth.length)
    expect(both.fiscal_year_data).toEqual(fiscalDataOf(plainBoth, yearsOf(all, AS_OF, 4), 4))
    // `+` unencoded in a query string arrives as a space: read as the `+` it was.
    const raw = await h.getJson(app, key, `/v1/dashboards/rfm?as_of=${asOf}&f_value_bucket=5+`, rfmResponse)
    expect(raw.status).toBe(200)
    expect(raw.body.filters.f_value_bucket).toBe('5+')
    expect(raw.body.kpi.total_customer).toBe(all.filter((c) => c.frequency >= 5).length)
  })

  it('refuses a label the dashboard does not emit with 400 listing the valid ones', async () => {
    for (const [param, value, labels] of [
      ['r_value_bucket', '0-100', '0-200, 200-400, 400-600, 600-800, 800-1000, 1000+'],
      ['f_value_bucket', '6', '1, 2, 3, 4, 5+'],
      ['m_value_bucket', '5000', '0-1000, 1000-2000, 2000-3000, 3000-4000, 4000-5000, 5000+'],
    ]) {
      const { status, body } = await h.getJson(app, key, `/v1/dashboards/rfm?${q({ [param]: value })}`, h.errorSchema)
      expect(status).toBe(400)
      expect(body.error.message).toContain(`${param}: expected one of ${labels}`)
    }
  })

  it('pushes dashboard:rfm with fiscal years and with a bucket filter, as computed plainly at its as_of', async () => {
    const client = await h.connectLive(app, key)
    client.send({ op: 'subscribe', topics: ['dashboard:rfm', 'dashboard:rfm?m_value_bucket=5000%2B'] })
    const whole = await client.next((m) => m.type === 'snapshot' && m.topic === 'dashboard:rfm', 'rfm snapshot')
    const at = Date.parse(whole.data.as_of)
    const now = customersOf(at, 4)
    expect(whole.data.fiscal_year_data).toEqual(fiscalDataOf(now, yearsOf(now, at, 4), 4))
    const rich = await client.next(
      (m) => m.type === 'snapshot' && m.topic === 'dashboard:rfm?m_value_bucket=5000%2B',
      'rfm m_value_bucket snapshot',
    )
    const richAt = Date.parse(rich.data.as_of)
    const richAll = customersOf(richAt, 4)
    const kept = richAll.filter((c) => c.monetary >= 500_000)
    expect(kept.length).toBeGreaterThan(0)
    expect(rich.data.filters.m_value_bucket).toBe('5000+')
    expect(rich.data.kpi.total_customer).toBe(kept.length)
    expect(rich.data.fiscal_year_data).toEqual(fiscalDataOf(kept, yearsOf(richAll, richAt, 4), 4))
    client.send({ op: 'subscribe', topics: ['dashboard:rfm?r_value_bucket=7'] })
    const refused = await client.next((m) => m.type === 'error', 'bad filter error')
    expect(refused).toMatchObject({ code: 'bad_topic', topic: 'dashboard:rfm?r_value_bucket=7' })
    expect(refused.message).toContain('r_value_bucket: expected one of 0-200, 200-400')
    client.close()
  })

  it('answers identically after a restart that rebuilds customer state from history', async () => {
    expect(answers.size).toBeGreaterThan(15)
    await app.kill('SIGTERM')
    app = await h.startApp({ dataDir: app.dataDir })
    for (const [path, before] of answers) {
      const { status, body } = await h.getJson(app, key, path, rfmResponse)
      expect(status, path).toBe(200)
      expect(body, path).toEqual(before)
    }
  })

  it('follows fiscal_year_start_month: January-start years labelled FY2026; 13 refused naming it', async () => {
    const patch = (body: unknown) => h.send(app, key, 'PATCH', '/v1/settings', z.unknown(), body)
    expect((await patch({ fiscal_year_start_month: 1 })).status).toBe(200)
    const january = customersOf(AS_OF, 1)
    const body = await rfm({ as_of: asOf })
    expect(body.fiscal_year_data).toEqual(fiscalDataOf(january, yearsOf(january, AS_OF, 1), 1))
    expect(body.fiscal_year_data.map((y) => y.label)).toEqual(['FY2023', 'FY2024', 'FY2025', 'FY2026'])
    const december = customersOf(AS_OF, 12)
    expect((await patch({ fiscal_year_start_month: 12 })).status).toBe(200)
    expect((await rfm({ as_of: asOf })).fiscal_year_data).toEqual(
      fiscalDataOf(december, yearsOf(december, AS_OF, 12), 12),
    )
    const bad = await h.send(app, key, 'PATCH', '/v1/settings', h.fieldErrors, { fiscal_year_start_month: 13 })
    expect(bad.status).toBe(400)
    expect(bad.body.error.details.map((d) => d.path)).toContain('fiscal_year_start_month')
  })
})
