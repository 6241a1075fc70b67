// Fair use between tenants, on the real app: while one tenant runs a heavy load (wide live topics
// in one connection, 16 wide dashboard reads in flight, 2 heavy analyst queries), another
// tenant's KPIs are answered, and correct. The limits answer with errors naming them: a too-wide
// topic at subscribe, the 51st topic of a connection, a too-wide range over HTTP (400), a
// tenant's reads past its queue (429). bench/fairness.ts measures the latencies; nothing here is
// timed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { profitAnswer } from '../../query/dashboards/schemas.ts'
import { kpisAnswer } from '../../query/metrics-routes.ts'
import { type App, createTenant, errorSchema, getJson, postEvents, startApp, waitFor, waitForKpis } from './harness.ts'
import { type Client, openLive } from './push-harness.ts'

const DAY = 86_400_000
const MINUTE = 60_000
const iso = (ms: number) => new Date(ms).toISOString()
const now = Math.floor(Date.now() / MINUTE) * MINUTE
const B_RANGE = `from=${encodeURIComponent(iso(now - 30 * DAY))}&to=${encodeURIComponent(iso(now))}`

let app: App
let heavy: string
let quiet: string

/** n orders of 10.00 each, spread evenly over [from, to). */
function orders(prefix: string, n: number, from: number, to: number): unknown[] {
  return Array.from({ length: n }, (_, i) => ({
    type: 'order.created',
    id: `${prefix}-${i}`,
    ts: iso(from + Math.floor(((to - from) * i) / n)),
    source: 'shopify',
    order_id: `${prefix}-${i}`,
    customer_id: `c${i % 100}`,
    channel: ['organic', 'google', 'meta'][i % 3],
    total: '10.00',
    subtotal: '10.00',
    discounts: '0.00',
    tax: '0.00',
    shipping: '0.00',
    items: [{ sku: `sku-${i % 20}`, quantity: 1, price: '10.00' }],
  }))
}

/** `from=…&to=now` over the last `days` days and `minutes` minutes. */
const last = (days: number, minutes = 0) =>
  `from=${encodeURIComponent(iso(now - days * DAY - minutes * MINUTE))}&to=${encodeURIComponent(iso(now))}`
const profitPath = (days: number, minutes = 0) => `/v1/dashboards/profit?${last(days, minutes)}`
const profitTopic = (days: number, minutes = 0) => `dashboard:profit?${last(days, minutes)}`
/** The heavy tenant's profit reads are answered, or refused by its queue (429). */
const profitOrRefused = z.union([profitAnswer, errorSchema])
const snapshots = (live: Client, n: number) => async () =>
  live.messages.filter((m) => m.type === 'snapshot').length === n ? true : undefined

beforeAll(async () => {
  app = await startApp()
  heavy = await createTenant(app, { id: 'heavy' })
  quiet = await createTenant(app, { id: 'quiet' })
  expect((await postEvents(app, heavy, orders('a', 2_000, now - 700 * DAY, now - MINUTE))).status).toBe(202)
  expect((await postEvents(app, quiet, orders('b', 500, now - 30 * DAY, now - MINUTE))).status).toBe(202)
  await waitForKpis(app, quiet, B_RANGE, (k) => k.orders === 500)
  await waitForKpis(app, heavy, last(700), (k) => k.orders === 2_000)
})

afterAll(async () => {
  await app?.kill()
})

describe('fair use between tenants', () => {
  it("another tenant's KPIs stay correct while a tenant runs a heavy load", async () => {
    let running = true
    const answered: Record<string, number> = {}
    const count = (what: string) => (answered[what] = (answered[what] ?? 0) + 1)
    const live = await openLive(app.url, { key: heavy })
    live.send({ op: 'subscribe', topics: Array.from({ length: 60 }, (_, i) => profitTopic(700, i)) })
    const loops = [
      ...Array.from({ length: 16 }, async (_, slot) => {
        for (let i = 0; running; i++) {
          count(`dashboard ${(await getJson(app, heavy, profitPath(700, slot * 1000 + i), profitOrRefused)).status}`)
        }
      }),
      ...Array.from({ length: 2 }, async () => {
        const query =
          'SELECT sum(length(arrayStringConcat(arrayMap(x -> toString(x * length(raw)), range(3000))))) ' +
          'FROM events'
        while (running) count(`sql ${(await fetchSql(query)).status}`)
      }),
    ]
    try {
      const total = () => Object.values(answered).reduce((a, b) => a + b, 0)
      await waitFor(async () => (total() >= 16 ? true : undefined), 'the load under way')
      for (let i = 0; i < 10; i++) {
        // Each from a minute earlier: no cache hit, a real read every time.
        const { status, body } = await getJson(app, quiet, `/v1/metrics/kpis?${last(30, i + 1)}`, kpisAnswer)
        expect(status).toBe(200)
        expect({ orders: body.orders, gmv: body.gmv }).toEqual({ orders: 500, gmv: '5000.00' })
      }
    } finally {
      running = false
      await Promise.all(loops)
      live.close()
    }
    // The heavy tenant was served too, or told to wait: nothing else.
    const expected = ['dashboard 200', 'dashboard 429', 'sql 200', 'sql 429']
    expect(Object.keys(answered).filter((k) => !expected.includes(k))).toEqual([])
    expect(answered['dashboard 200']).toBeGreaterThan(0)
  })

  it('a topic wider than the limit is refused at subscribe', async () => {
    const live = await openLive(app.url, { key: heavy })
    live.send({ op: 'subscribe', topics: [profitTopic(10_000), 'timeseries:gmv:1m?last=10000'] })
    const errorOf = (topic: string) => live.find((m) => m.type === 'error' && m.topic === topic, `${topic} refused`)
    expect(await errorOf(profitTopic(10_000))).toEqual({
      type: 'error',
      code: 'bad_topic',
      topic: profitTopic(10_000),
      message: "the topic's to - from spans 10000 days; at most 732 days",
    })
    expect(await errorOf('timeseries:gmv:1m?last=10000')).toEqual({
      type: 'error',
      code: 'bad_topic',
      topic: 'timeseries:gmv:1m?last=10000',
      message: "the topic's to - from spans 7 days; at most 2 days",
    })
    live.close()
  })

  it('the 51st distinct topic of a connection is refused; the others are served', async () => {
    const live: Client = await openLive(app.url, { key: quiet })
    const topics = Array.from({ length: 51 }, (_, i) => `kpis?${last(30, i)}`)
    live.send({ op: 'subscribe', topics })
    expect(await live.find((m) => m.type === 'error', 'the 51st refused')).toEqual({
      type: 'error',
      code: 'too_many_topics',
      topic: topics[50],
      message: 'at most 50 distinct topics per connection; unsubscribe from one first',
    })
    await waitFor(snapshots(live, 50), '50 snapshots')
    expect(live.messages.filter((m) => m.type === 'snapshot').map((m) => m.data.orders)).toEqual(Array(50).fill(500))
    live.close()
  })

  it('a range wider than the limit is answered 400 naming the parameter and the maximum', async () => {
    expect(await getJson(app, heavy, profitPath(800), errorSchema)).toEqual({
      status: 400,
      body: { error: { code: 'bad_request', message: 'to - from spans 800 days; at most 732 days' } },
    })
    const series = `/v1/metrics/timeseries?metric=gmv&interval=1m&${last(3)}`
    expect(await getJson(app, heavy, series, errorSchema)).toEqual({
      status: 400,
      body: { error: { code: 'bad_request', message: 'to - from at interval=1m spans 3 days; at most 2 days' } },
    })
  })

  it("a tenant's expensive reads past its queue are answered 429; the others are answered", async () => {
    const answers = await Promise.all(
      Array.from({ length: 40 }, (_, i) => getJson(app, heavy, profitPath(700, 5_000 + i), profitOrRefused)),
    )
    const refused = answers.filter((a) => a.status === 429)
    expect(refused.length).toBeGreaterThan(0)
    expect(refused[0].body).toEqual({
      error: {
        code: 'too_many_requests',
        message: 'too many expensive reads in flight for this tenant (2 running, 16 waiting); retry shortly',
      },
    })
    const served = answers.flatMap((a) => ('net_sales' in a.body ? [[a.status, a.body.net_sales]] : []))
    expect(served).toEqual(Array(40 - refused.length).fill([200, '20000.00']))
    // The other tenant is not refused meanwhile.
    expect((await getJson(app, quiet, `/v1/metrics/kpis?${B_RANGE}`, kpisAnswer)).status).toBe(200)
  })
})

async function fetchSql(query: string): Promise<Response> {
  const res = await fetch(`${app.url}/v1/sql`, {
    method: 'POST',
    headers: { authorization: `Bearer ${heavy}`, 'content-type': 'application/json' },
    body: JSON.stringify({ query, timeout_seconds: 10 }),
  })
  await res.arrayBuffer()
  return res
}
