// The campaign (RFM) dashboard, GET /v1/customers/:id and the intent dashboard, against
// figures computed plainly in rfm-intent-data.ts from the same events — while the data is live
// (a long flush interval), and identical after a restart that rebuilds state from history.
import { afterAll, describe, expect, it } from 'vitest'
import type { z } from 'zod'
import { customerResponse, intentResponse, rfmResponse } from '../../query/customer-routes.ts'
import * as h from './harness.ts'
import {
  AS_OF,
  type CustomerFacts,
  DAY,
  START,
  dashboardOf,
  fiscalAxis,
  generate,
  intentDashboardOf,
  intentOf,
  ordersOf,
  rfmOf,
  usd,
  cityOf,
} from './rfm-intent-data.ts'

const { events, customers, browsers } = generate()
const orders = ordersOf(events)
const asOf = new Date(AS_OF).toISOString()
const FROM = AS_OF - 400 * DAY
const TO = AS_OF - 100 * DAY
const q = (params: Record<string, string | number>) =>
  new URLSearchParams(Object.entries(params).map(([k, v]) => [k, String(v)])).toString()

let app: h.App
afterAll(async () => app?.kill())

/**
 * The body with its one float (a mean of means, summed in another order) checked apart. `all`:
 * the customers before the filters (the fiscal years answered run from their earliest order).
 */
function expectRfm(
  body: z.output<typeof rfmResponse>,
  list: CustomerFacts[],
  header: Record<string, unknown> & { as_of: string; to: string | null },
  all = list,
) {
  const axis = fiscalAxis(all, Date.parse(header.as_of), header.to === null ? Infinity : Date.parse(header.to))
  const expected = dashboardOf(list, axis)
  if (expected.kpi.days_to_return === null) expect(body.kpi.days_to_return).toBeNull()
  else expect(body.kpi.days_to_return).toBeCloseTo(expected.kpi.days_to_return, 9)
  expect({ ...body, kpi: { ...body.kpi, days_to_return: 0 } }).toEqual({
    currency: 'USD',
    ...header,
    ...expected,
    kpi: { ...expected.kpi, days_to_return: 0 },
  })
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

/** Every answer the test checks, by URL, with the route's response schema, to compare after the restart. */
const answers = new Map<string, { schema: z.ZodType; body: unknown }>()
async function get<S extends z.ZodType>(key: string, path: string, schema: S) {
  const { status, body } = await h.getJson(app, key, path, schema)
  expect(status, `${path}: ${JSON.stringify(body).slice(0, 300)}`).toBe(200)
  answers.set(path, { schema, body })
  return body
}

describe('RFM and intent dashboards', () => {
  let key: string
  const all = rfmOf(orders, AS_OF)
  const byId = new Map(all.map((c) => [c.id, c]))

  it('loads a generated data set (5,200 orders in 1,100 days, edits, refunds, cancels, guests, shoppers)', async () => {
    expect(orders.size).toBeGreaterThanOrEqual(5_000)
    expect(events.length).toBeGreaterThan(10_000)
    app = await h.startApp({ env: { FLUSH_INTERVAL_MS: '60000' } })
    key = await h.createTenant(app, { id: 'rfm', currency: 'USD', timezone: 'UTC' })
    for (let i = 0; i < events.length; i += 5_000) {
      const batch = events.slice(i, i + 5_000)
      expect(await h.postEvents(app, key, batch)).toEqual({
        status: 202,
        body: { accepted: batch.length, duplicates: 0 },
      })
    }
    // The last event posted is an order: once it is counted, everything before it was applied.
    await h.waitForKpis(
      app,
      key,
      q({ from: new Date(START - DAY).toISOString(), to: new Date(AS_OF + DAY).toISOString() }),
      (k) => k.orders === orders.size,
      60_000,
    )
    // Enough spread for every score, segment and bucket to mean something.
    expect(all.length).toBeGreaterThan(500)
    expect(new Set(all.map((c) => c.segment)).size).toBe(4)
  })

  it('answers every RFM figure as computed plainly, with no filter', async () => {
    const body = await get(key, `/v1/dashboards/rfm?${q({ as_of: asOf })}`, rfmResponse)
    expectRfm(body, all, { as_of: asOf, from: null, to: null, filters: noFilters })
    expect(body.r_value_bucket_data.every((b) => b.count > 0)).toBe(true)
  })

  it('with a date range: only orders in [from, to) count, and the ranking is over those customers', async () => {
    const inRange = rfmOf(orders, AS_OF, FROM, TO)
    const range = { as_of: asOf, from: new Date(FROM).toISOString(), to: new Date(TO).toISOString() }
    const body = await get(key, `/v1/dashboards/rfm?${q(range)}`, rfmResponse)
    expectRfm(body, inRange, {
      as_of: asOf,
      from: new Date(FROM).toISOString(),
      to: new Date(TO).toISOString(),
      filters: noFilters,
    })
    const withR = await get(key, `/v1/dashboards/rfm?${q({ ...range, r: 2 })}`, rfmResponse)
    expectRfm(
      withR,
      inRange.filter((c) => c.r === 2),
      {
        as_of: asOf,
        from: new Date(FROM).toISOString(),
        to: new Date(TO).toISOString(),
        filters: { ...noFilters, r: 2 },
      },
      inRange,
    )
  })

  it('with an R, F or M bucket or a segment: only customers with that score, scored among all', async () => {
    for (const [filter, value] of [
      ['r', 5],
      ['r', 1],
      ['f', 1],
      ['f', 4],
      ['m', 3],
      ['m', 5],
    ] as const) {
      const body = await get(key, `/v1/dashboards/rfm?${q({ as_of: asOf, [filter]: value })}`, rfmResponse)
      expectRfm(
        body,
        all.filter((c) => c[filter] === value),
        { as_of: asOf, from: null, to: null, filters: { ...noFilters, [filter]: value } },
        all,
      )
    }
    const champions = await get(key, `/v1/dashboards/rfm?${q({ as_of: asOf, segment: 'CHAMPIONS' })}`, rfmResponse)
    expectRfm(
      champions,
      all.filter((c) => c.segment === 'CHAMPIONS'),
      { as_of: asOf, from: null, to: null, filters: { ...noFilters, segment: 'CHAMPIONS' } },
      all,
    )
  })

  it('with a customer: that customer alone, ranked among all', async () => {
    const sorted = [...all].sort((a, b) => b.frequency - a.frequency)
    for (const c of [sorted[0], sorted[sorted.length - 1], sorted[Math.floor(sorted.length / 2)]]) {
      const body = await get(key, `/v1/dashboards/rfm?${q({ as_of: asOf, customer_id: c.id })}`, rfmResponse)
      expectRfm(body, [c], { as_of: asOf, from: null, to: null, filters: { ...noFilters, customer_id: c.id } }, all)
    }
    const nobody = await get(key, `/v1/dashboards/rfm?${q({ as_of: asOf, customer_id: 'nobody' })}`, rfmResponse)
    expectRfm(nobody, [], { as_of: asOf, from: null, to: null, filters: { ...noFilters, customer_id: 'nobody' } }, all)
  })

  it('GET /v1/customers/:id: recency, frequency, monetary, scores, segment and intent of a sample', async () => {
    const intent = intentOf(events, AS_OF)
    const sample = [...customers.filter((_, i) => i % 23 === 0), ...browsers.slice(-6)]
    for (const id of sample) {
      const c = byId.get(id)
      const i = intent.get(id)
      if (!c && !i && !cityOf(events, id)) {
        const path = `/v1/customers/${encodeURIComponent(id)}?${q({ as_of: asOf })}`
        expect((await h.getJson(app, key, path, h.errorSchema)).status).toBe(404)
        continue
      }
      const body = await get(key, `/v1/customers/${encodeURIComponent(id)}?${q({ as_of: asOf })}`, customerResponse)
      expect(body).toEqual({
        customer_id: id,
        currency: 'USD',
        as_of: asOf,
        recency_days: c?.recency ?? null,
        frequency: c?.frequency ?? 0,
        monetary: usd(c?.monetary ?? 0),
        r: c?.r ?? null,
        f: c?.f ?? null,
        m: c?.m ?? null,
        segment: c?.segment ?? null,
        intent_level: i?.level ?? 'low',
        intent_score: i?.score ?? 0,
        intent_category: i?.category ?? null,
        intent_exact: true,
        events: i?.events ?? 0,
        location: cityOf(events, id),
        first_order_at: c ? new Date(c.first).toISOString() : null,
        last_order_at: c ? new Date(c.last).toISOString() : null,
        gross_profit: usd(c?.grossProfit ?? 0),
      })
    }
    expect((await h.getJson(app, key, `/v1/customers/never-seen?${q({ as_of: asOf })}`, h.errorSchema)).status).toBe(
      404,
    )
  })

  it('the intent dashboard: users per level, high-intent list (paged, by category), revenue opportunity', async () => {
    const header = (body: any) => ({
      currency: 'USD',
      as_of: asOf,
      thresholds: { high: 10, medium: 4, half_life_hours: 24 },
      approximate_customers: 0,
      ...body,
    })
    const first = await get(key, `/v1/dashboards/intent?${q({ as_of: asOf })}`, intentResponse)
    expect(first).toEqual(header(intentDashboardOf(events, orders, AS_OF, { page: 1, pageSize: 50 })))
    expect(first.users_by_level.high).toBeGreaterThan(50)
    expect(first.high_intent_users.users.some((u) => u.orders === 0)).toBe(true) // estimated by the recent AOV
    const page3 = await get(key, `/v1/dashboards/intent?${q({ as_of: asOf, page: 3, page_size: 7 })}`, intentResponse)
    expect(page3).toEqual(header(intentDashboardOf(events, orders, AS_OF, { page: 3, pageSize: 7 })))
    const beauty = await get(
      key,
      `/v1/dashboards/intent?${q({ as_of: asOf, category: 'beauty', page_size: 500 })}`,
      intentResponse,
    )
    expect(beauty).toEqual(
      header(intentDashboardOf(events, orders, AS_OF, { category: 'beauty', page: 1, pageSize: 500 })),
    )
    // The crafted cases: a score of exactly 10 is high, equal categories go by name, an event at as_of counts whole.
    const listed = new Map(beauty.high_intent_users.users.map((u) => [u.customer_id, u]))
    expect(listed.get('tie')).toMatchObject({ category: 'beauty', score: Math.round(30 * 2 ** (-1 / 24) * 1e6) / 1e6 })
    const edge = await get(key, `/v1/customers/edge-high?${q({ as_of: asOf })}`, customerResponse)
    expect(edge).toMatchObject({ intent_score: 10, intent_level: 'high', intent_category: 'sports' })
    const medium = await get(key, `/v1/customers/edge-medium?${q({ as_of: asOf })}`, customerResponse)
    expect(medium.intent_level).toBe('medium')
    const atAsOf = await get(key, `/v1/customers/at-as-of?${q({ as_of: asOf })}`, customerResponse)
    expect(atAsOf.intent_score).toBe(10)
  })

  it('refuses bad filters with 400', async () => {
    for (const path of [
      `/v1/dashboards/rfm?r=6`,
      `/v1/dashboards/rfm?segment=VIP`,
      `/v1/dashboards/rfm?from=${asOf}&to=${asOf}`,
      `/v1/dashboards/intent?page_size=0`,
      `/v1/customers/x?as_of=yesterday`,
    ]) {
      const { status, body } = await h.getJson(app, key, path, h.errorSchema)
      expect(status, path).toBe(400)
      expect(body.error.code).toBe('bad_request')
    }
  })

  it('pushes dashboard:rfm and dashboard:intent snapshots equal to the figures as of their as_of', async () => {
    const client = await h.connectLive(app, key)
    client.send({ op: 'subscribe', topics: ['dashboard:rfm', 'dashboard:intent', 'dashboard:rfm?f=1'] })
    const rfm = await client.next((m) => m.type === 'snapshot' && m.topic === 'dashboard:rfm', 'rfm snapshot')
    const at = Date.parse(rfm.data.as_of)
    expect(at).toBeGreaterThan(AS_OF)
    expectRfm(rfm.data, rfmOf(orders, at), { as_of: rfm.data.as_of, from: null, to: null, filters: noFilters })
    const f1 = await client.next((m) => m.type === 'snapshot' && m.topic === 'dashboard:rfm?f=1', 'rfm f=1 snapshot')
    const atF1 = rfmOf(orders, Date.parse(f1.data.as_of))
    expectRfm(
      f1.data,
      atF1.filter((c) => c.f === 1),
      { as_of: f1.data.as_of, from: null, to: null, filters: { ...noFilters, f: 1 } },
      atF1,
    )
    const intent = await client.next((m) => m.type === 'snapshot' && m.topic === 'dashboard:intent', 'intent snapshot')
    const { currency, as_of, thresholds, approximate_customers, ...figures } = intent.data
    expect(figures).toEqual(intentDashboardOf(events, orders, Date.parse(as_of), { page: 1, pageSize: 50 }))
    client.close()
  })

  it('answers identically after a restart that rebuilds customer state from history', async () => {
    expect(answers.size).toBeGreaterThan(20)
    await app.kill('SIGTERM')
    app = await h.startApp({ dataDir: app.dataDir })
    for (const [path, before] of answers) {
      const { status, body } = await h.getJson(app, key, path, before.schema)
      expect(status, path).toBe(200)
      expect(body, path).toEqual(before.body)
    }
  })

  it('a new order shows in the live RFM topic', async () => {
    const client = await h.connectLive(app, key)
    client.send({ op: 'subscribe', topics: ['dashboard:rfm'] })
    const snapshot = await client.next((m) => m.type === 'snapshot' && m.topic === 'dashboard:rfm', 'rfm snapshot')
    const newcomer = {
      id: 'ev-new',
      type: 'order.created',
      ts: new Date(Date.now() - 60_000).toISOString(),
      source: 'shopify',
      order_id: 'o-new',
      customer_id: 'newcomer',
      total: '12.00',
      subtotal: '12.00',
      items: [{ sku: 'x', quantity: 2, price: '6.00' }],
    }
    expect((await h.postEvents(app, key, [newcomer])).status).toBe(202)
    const update = await client.next(
      (m) =>
        m.type === 'update' &&
        m.topic === 'dashboard:rfm' &&
        m.data.kpi.total_customer === snapshot.data.kpi.total_customer + 1,
      'rfm update',
    )
    expect(update.data.visits_data[0].count).toBe(snapshot.data.visits_data[0].count + 1)
    client.close()
  })
})
