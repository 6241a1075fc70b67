// Exact KPIs over HTTP and WebSocket, statements that restate, late
// events in their own windows — and the same answer from live state, from history, after restart.
import { afterAll, describe, expect, it } from 'vitest'
import { kpisAnswer, timeseriesAnswer } from '../../query/metrics-routes.ts'
import {
  type App,
  type Kpis,
  connectLive,
  createTenant,
  figures,
  getJson,
  postEvents,
  startApp,
  waitForKpis,
} from './harness.ts'

const day = '2026-11-20'
const at = (time: string) => `${day}T${time}Z`
const range = `from=${day}T00:00:00Z&to=2026-11-21T00:00:00Z`

const order = (id: string, time: string, fields: Record<string, unknown>) => ({
  id: `e-${id}`,
  type: 'order.created',
  ts: at(time),
  source: 'shopify',
  order_id: id,
  customer_id: `c-${id}`,
  ...fields,
})

const batch = [
  order('o1', '10:00:00', {
    total: '110.50',
    subtotal: '100.00',
    tax: '8.00',
    shipping: '2.50',
    items: [{ sku: 'a', quantity: 2, price: '50.00' }],
    channel: 'facebook',
    campaign_id: 'fb1',
  }),
  order('o2', '11:30:00', {
    source: 'amazon',
    total: 59.99,
    subtotal: '50.00',
    discounts: '5.00',
    tax: '4.99',
    shipping: '5.00',
    items: [{ sku: 'b', quantity: 1, price: '55.00' }],
    channel: 'organic',
  }),
  order('o3', '12:15:00', {
    total: '200.01',
    subtotal: '190.00',
    tax: '10.01',
    items: [{ sku: 'c', quantity: 4, price: '47.50' }],
    channel: 'google',
  }),
  {
    id: 'e-r1',
    type: 'refund.created',
    ts: at('13:00:00'),
    source: 'shopify',
    order_id: 'o1',
    refund_id: 'r1',
    amount: '55.25',
    subtotal: '50.00',
  },
  {
    id: 'e-s1',
    type: 'ad.spend',
    ts: at('00:00:00'),
    source: 'meta_ads',
    platform: 'facebook',
    campaign_id: 'fb1',
    spend: '20.00',
    reported_at: at('09:00:00'),
  },
  {
    id: 'e-s2',
    type: 'ad.spend',
    ts: at('00:00:00'),
    source: 'google_ads',
    platform: 'google',
    campaign_id: 'g1',
    spend: '40.10',
    reported_at: at('09:00:00'),
  },
]

// Computed by hand from the batch above.
const expected = {
  gmv: '370.50', // 110.50 + 59.99 + 200.01
  orders: 3,
  units: 7,
  refunds: '55.25',
  refund_rate: 5525 / 37050,
  cancelled_orders: 0,
  net_sales: '290.00', // 100 + 50 + 190 − 50
  aov: '96.67', // 290 / 3 = 96.666…
  ad_spend: '60.10',
  attributed_revenue: '310.51', // facebook + google orders
  roas: 31051 / 6010,
}

let app: App
afterAll(async () => app?.kill())

describe('the spine', () => {
  let key: string
  let live: Kpis

  it('turns a batch into exactly the KPIs computed by hand, from live state', async () => {
    // A long flush interval keeps everything in live state for this first look.
    app = await startApp({ env: { FLUSH_INTERVAL_MS: '60000' } })
    key = await createTenant(app, { id: 'acme' })
    const res = await postEvents(app, key, batch)
    expect(res).toEqual({ status: 202, body: { accepted: 6, duplicates: 0 } })

    live = await waitForKpis(app, key, range, (k) => k.orders === 3 && k.ad_spend === '60.10' && k.refunds === '55.25')
    expect(live).toMatchObject({
      ...expected,
      from: '2026-11-20T00:00:00.000Z',
      to: '2026-11-21T00:00:00.000Z',
      currency: 'USD',
      view: 'transaction_date',
    })
    expect(live.by_channel.facebook).toMatchObject({
      gmv: '110.50',
      orders: 1,
      attributed_revenue: '110.50',
      ad_spend: '20.00',
      roas: 11050 / 2000,
      refunds: '55.25',
    })
    expect(live.by_channel.google).toMatchObject({
      gmv: '200.01',
      attributed_revenue: '200.01',
      ad_spend: '40.10',
      roas: 20001 / 4010,
    })
    expect(live.by_channel.organic).toMatchObject({
      gmv: '59.99',
      attributed_revenue: '0.00',
      ad_spend: '0.00',
      roas: null,
    })
    expect(live.by_source.shopify).toMatchObject({
      gmv: '310.51',
      orders: 2,
      refunds: '55.25',
      gmv_share: 31051 / 37050,
    })
    expect(live.by_source.amazon).toMatchObject({
      gmv: '59.99',
      orders: 1,
      net_sales: '50.00',
      gmv_share: 5999 / 37050,
    })
    expect(live.by_source.meta_ads).toMatchObject({ ad_spend: '20.00', gmv: '0.00' })
    expect(live.freshness.shopify).toEqual({
      latest_event_at: '2026-11-20T13:00:00.000Z',
      watermark: '2026-11-20T12:55:00.000Z',
      late_events: 0,
    })
  })

  it('places each event in the hour of its own event time', async () => {
    const { body } = await getJson(app, key, `/v1/metrics/timeseries?metric=gmv&interval=1h&${range}`, timeseriesAnswer)
    expect(body).toHaveLength(24)
    expect(body.filter((p) => p.value !== '0.00')).toEqual([
      { t: at('10:00:00.000'), value: '110.50' },
      { t: at('11:00:00.000'), value: '59.99' },
      { t: at('12:00:00.000'), value: '200.01' },
    ])
  })

  it('a second ad.spend statement replaces the first; an older report never brings it back', async () => {
    const restated = {
      id: 'e-s1b',
      type: 'ad.spend',
      ts: at('00:00:00'),
      source: 'meta_ads',
      platform: 'facebook',
      campaign_id: 'fb1',
      spend: '35.00',
      reported_at: at('18:00:00'),
    }
    const stale = {
      id: 'e-s1c',
      type: 'ad.spend',
      ts: at('00:00:00'),
      source: 'meta_ads',
      platform: 'facebook',
      campaign_id: 'fb1',
      spend: '99.00',
      reported_at: at('12:00:00'),
    }
    expect((await postEvents(app, key, [restated, stale])).status).toBe(202)
    const k = await waitForKpis(app, key, range, (k) => k.ad_spend !== '60.10')
    expect(k.ad_spend).toBe('75.10') // 35.00 + 40.10, never 20 + 35 or 99
    expect(k.by_channel.facebook.ad_spend).toBe('35.00')
    expect(k.roas).toBe(31051 / 7510)
  })

  it('a late event, hours behind, lands in its own window and is counted as late', async () => {
    const late = order('o4', '03:20:00', {
      total: '10.00',
      subtotal: '10.00',
      items: [{ sku: 'd', quantity: 1, price: '10.00' }],
      channel: 'organic',
    })
    expect((await postEvents(app, key, [late])).status).toBe(202)
    const k = await waitForKpis(app, key, range, (k) => k.orders === 4)
    expect(k.gmv).toBe('380.50')
    expect(k.freshness.shopify.late_events).toBe(1)
    const { body } = await getJson(
      app,
      key,
      `/v1/metrics/timeseries?metric=orders&interval=1h&${range}`,
      timeseriesAnswer,
    )
    expect(body.find((p) => p.t === at('03:00:00.000'))?.value).toBe(1)
    live = k
  })

  it('answers the same from history after a flush and a restart', async () => {
    await app.kill('SIGTERM') // a graceful stop lands everything in ClickHouse
    app = await startApp({ dataDir: app.dataDir })
    const fromHistory = await waitForKpis(app, key, range, () => true)
    expect(figures(fromHistory)).toEqual(figures(live))
    expect(fromHistory.freshness).toEqual(live.freshness)
    const { body } = await getJson(
      app,
      key,
      `/v1/metrics/timeseries?metric=orders&interval=1h&${range}`,
      timeseriesAnswer,
    )
    expect(body.filter((p) => p.value !== 0).map((p) => [p.t, p.value])).toEqual([
      [at('03:00:00.000'), 1],
      [at('10:00:00.000'), 1],
      [at('11:00:00.000'), 1],
      [at('12:00:00.000'), 1],
    ])
    const byOrderDate = await getJson(app, key, `/v1/metrics/kpis?${range}&view=order_date`, kpisAnswer)
    expect(byOrderDate.body).toMatchObject({ refunds: '55.25', view: 'order_date' })
  })

  it('a refund days later counts on its own date, or with ?view=order_date in the order’s window', async () => {
    const refund = {
      id: 'e-r2',
      type: 'refund.created',
      ts: '2026-11-22T01:00:00Z',
      source: 'shopify',
      order_id: 'o3',
      refund_id: 'r2',
      amount: '20.00',
    }
    expect((await postEvents(app, key, [refund])).status).toBe(202)
    const byOrderDate = await waitForKpis(app, key, `${range}&view=order_date`, (k) => k.refunds !== '55.25')
    // subtotals 100 + 50 + 190 + 10, less refunds 50 + 20
    expect(byOrderDate).toMatchObject({ refunds: '75.25', net_sales: '280.00', refund_rate: 7525 / 38050 })
    const byTransaction = await getJson(app, key, `/v1/metrics/kpis?${range}`, kpisAnswer)
    expect(byTransaction.body.refunds).toBe('55.25')
  })

  it('pushes a KPI snapshot equal to GET /v1/metrics/kpis, then an update with the new figures', async () => {
    const now = Date.now()
    const today = (id: string, total: string) => ({
      id: `e-${id}`,
      type: 'order.created',
      ts: now - 1_000,
      source: 'shopify',
      order_id: id,
      total,
      subtotal: total,
      channel: 'facebook',
    })
    expect((await postEvents(app, key, [today('t1', '10.00')])).status).toBe(202)
    const http = await waitForKpis(app, key, '', (k) => Number(k.orders) >= 1)

    const client = await connectLive(app, key)
    client.send({ op: 'subscribe', topics: ['kpis'] })
    const snapshot = await client.next((m) => m.type === 'snapshot' && m.topic === 'kpis', 'kpis snapshot')
    expect(figures({ ...snapshot.data, to: undefined })).toEqual(figures({ ...http, to: undefined }))
    expect(snapshot.data).toMatchObject({ gmv: '10.00', orders: 1 })

    expect((await postEvents(app, key, [today('t2', '25.50')])).status).toBe(202)
    const update = await client.next(
      (m) => m.type === 'update' && m.topic === 'kpis' && m.data.orders === 2,
      'kpis update',
    )
    expect(update.seq).toBeGreaterThan(snapshot.seq)
    expect(update.data).toMatchObject({ gmv: '35.50', orders: 2, attributed_revenue: '35.50' })
    client.close()
  })
})
