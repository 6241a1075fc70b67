// Fees and net profit (docs/metrics.md, "Fees and net profit") and GET /v1/orders/:id ("One
// order") against the real app: orders with fees, an edit changing them, a refund giving fees
// back, fee.charged with and without an order, a cancelled order and a campaign's ad spend; every
// figure computed plainly here to the cent, the same after a checkpoint, more events and a
// restart; a 404, another tenant seeing nothing, and bad input refused naming the field.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { profitAnswer } from '../../query/dashboards/schemas.ts'
import { kpisAnswer, timeseriesAnswer } from '../../query/metrics-routes.ts'
import { checkpointAnswer } from '../../query/checkpoint-route.ts'
import { orderResponse } from '../../query/order-routes.ts'
import {
  ADMIN_TOKEN,
  type App,
  createTenant,
  errorSchema,
  fieldErrors,
  getJson,
  postEvents,
  send,
  startApp,
  waitFor,
} from './harness.ts'

const at = (time: string) => Date.parse(`2026-11-20T${time}Z`)
const FROM = '2026-11-20T00:00:00.000Z'
const TO = '2026-11-21T00:00:00.000Z'
const money = (minor: number) => `${minor < 0 ? '-' : ''}${(Math.abs(minor) / 100).toFixed(2)}`
let eventNo = 0
const id = () => `fe-${++eventNo}`

const order = (type: string, orderId: string, time: string, over: Record<string, unknown>) => ({
  id: id(),
  type,
  ts: at(time),
  source: 'shopify',
  order_id: orderId,
  channel: 'facebook',
  campaign_id: 'fb-1',
  ...over,
})
const fee = (time: string, amount: string, kind: string, orderId?: string) => ({
  id: id(),
  type: 'fee.charged',
  ts: at(time),
  source: 'stripe',
  amount,
  kind,
  ...(orderId ? { order_id: orderId } : {}),
})

const events = [
  order('order.created', 'o-1', '09:00:00', {
    customer_id: 'c-1',
    total: '120.00',
    subtotal: '100.00',
    tax: '20.00',
    fees: '3.78',
    items: [{ sku: 'tee', quantity: 2, price: '50.00', cost: '20.00' }],
  }),
  // The edit stands: three tees, fees 5.52 replacing 3.78.
  order('order.updated', 'o-1', '09:30:00', {
    customer_id: 'c-1',
    total: '180.00',
    subtotal: '150.00',
    tax: '30.00',
    fees: '5.52',
    items: [{ sku: 'tee', quantity: 3, price: '50.00', cost: '20.00' }],
  }),
  order('order.created', 'o-2', '10:00:00', {
    customer_id: 'c-2',
    total: '60.00',
    subtotal: '60.00',
    fees: '2.04',
    items: [{ sku: 'cap', brand: 'acme', quantity: 1, price: '60.00', cost: '25.00' }],
  }),
  order('order.created', 'o-3', '11:00:00', {
    channel: 'organic',
    campaign_id: undefined,
    total: '40.00',
    subtotal: '40.00',
    fees: '1.46',
    items: [{ sku: 'mug', quantity: 1, price: '40.00', cost: '10.00' }],
  }),
  { id: id(), type: 'order.cancelled', ts: at('12:00:00'), source: 'shopify', order_id: 'o-3' },
  {
    id: id(),
    type: 'refund.created',
    ts: at('13:00:00'),
    source: 'shopify',
    order_id: 'o-1',
    refund_id: 'r-1',
    amount: '54.00',
    subtotal: '50.00',
    fees: '1.10',
  },
  fee('14:00:00', '0.35', 'chargeback', 'o-2'),
  fee('15:00:00', '25.00', 'monthly'),
  {
    id: id(),
    type: 'ad.spend',
    ts: at('00:00:00'),
    source: 'meta_ads',
    platform: 'facebook',
    campaign_id: 'fb-1',
    spend: '30.01',
  },
]

// The plain computation, in cents. COGS: 3 × 20.00 + 25.00 + 10.00; no shipping, no marketing.
const netSales = 15_000 + 6_000 + 4_000 - 5_000
const cogs = 6_000 + 2_500 + 1_000
const adSpend = 3_001
const contribution = netSales - cogs - adSpend
// Order fees as edited (5.52, not 3.78 + 5.52), the cancelled order's kept, − the refund's + both fee.charged.
const fees = 552 + 204 + 146 - 110 + 35 + 2_500
// 30.01 over o-1 and o-2 by GMV 180 : 60 → 22.5075 and 7.5025: floors 22.50 + 7.50, the cent left to o-1.
const o1Spend = 2_251
const o2Spend = 750

function expectedKpis(extraFees: number) {
  return {
    net_sales: money(netSales),
    cogs: money(cogs),
    gross_profit: money(netSales - cogs),
    ad_spend: money(adSpend),
    contribution_margin: money(contribution),
    fees: money(fees + extraFees),
    net_profit: money(contribution - fees - extraFees),
    cancelled_orders: 1,
  }
}

const o1 = {
  order_id: 'o-1',
  currency: 'USD',
  customer_id: 'c-1',
  channel: 'facebook',
  campaign_id: 'fb-1',
  created_at: new Date(at('09:00:00')).toISOString(),
  updated_at: new Date(at('09:30:00')).toISOString(),
  created: true,
  revisions: 2,
  cancelled: false,
  cancelled_at: null,
  lines: [{ sku: 'tee', brand: null, category: null, quantity: 3, revenue: '150.00', cogs: '60.00' }],
  refunds: [
    { at: new Date(at('13:00:00')).toISOString(), source: 'shopify', amount: '54.00', subtotal: '50.00', fees: '1.10' },
  ],
  fees_charged: [],
  gmv: '180.00',
  subtotal: '150.00',
  refunded: '54.00',
  net_sales: '100.00',
  cogs: '60.00',
  gross_profit: '40.00',
  shipping_cost: '0.00',
  fees: money(552 - 110),
  ad_spend: money(o1Spend),
  net_profit: money(10_000 - 6_000 - (552 - 110) - o1Spend),
  attribution: {
    campaign_id: 'fb-1',
    day: '2026-11-20',
    campaign_ad_spend: '30.01',
    campaign_attributed_revenue: '240.00',
    campaign_orders: 2,
  },
}

let app: App | undefined
let key = ''
let otherKey = ''
afterAll(async () => app?.kill())

const range = `from=${FROM}&to=${TO}&as_of=${TO}`

async function checkAll(extraFees: number) {
  for (const view of ['transaction_date', 'order_date']) {
    const kpis = (await getJson(app!, key, `/v1/metrics/kpis?${range}&view=${view}`, kpisAnswer)).body
    expect(kpis, view).toMatchObject(expectedKpis(extraFees))
    const profit = (await getJson(app!, key, `/v1/dashboards/profit?${range}&view=${view}`, profitAnswer)).body
    expect(profit).toMatchObject({ fees: money(fees + extraFees), net_profit: money(contribution - fees - extraFees) })
  }
  const series = (await getJson(app!, key, `/v1/metrics/timeseries?metric=fees&interval=1d&${range}`, timeseriesAnswer))
    .body
  expect(series.map((point) => point.value)).toEqual([money(fees + extraFees)])

  const one = await getJson(app!, key, '/v1/orders/o-1', orderResponse)
  expect(one.status).toBe(200)
  expect(one.body).toMatchObject(o1)
  const two = (await getJson(app!, key, '/v1/orders/o-2', orderResponse)).body
  expect(two).toMatchObject({
    lines: [{ sku: 'cap', brand: 'acme', quantity: 1, revenue: '60.00', cogs: '25.00' }],
    fees: '2.39',
    fees_charged: [{ kind: 'chargeback', amount: '0.35', source: 'stripe' }],
    ad_spend: money(o2Spend),
    net_profit: money(6_000 - 2_500 - 239 - o2Spend),
  })
  expect(o1Spend + o2Spend).toBe(adSpend)
  const three = (await getJson(app!, key, '/v1/orders/o-3', orderResponse)).body
  expect(three).toMatchObject({
    customer_id: null,
    cancelled: true,
    cancelled_at: new Date(at('12:00:00')).toISOString(),
    fees: '1.46',
    ad_spend: null,
    attribution: null,
    net_profit: money(4_000 - 1_000 - 146),
  })
}

describe('fees, net profit and one order', () => {
  beforeAll(async () => {
    app = await startApp()
    key = await createTenant(app, { id: 'fees', timezone: 'UTC', currency: 'USD' })
    otherKey = await createTenant(app, { id: 'fees-other', timezone: 'UTC', currency: 'USD' })
    expect((await postEvents(app, key, events)).status).toBe(202)
    await waitFor(async () => {
      const { body } = await getJson(app!, key, `/v1/metrics/kpis?${range}`, kpisAnswer)
      return body.fees === money(fees) && body.ad_spend === money(adSpend) ? body : undefined
    }, 'the events applied')
  }, 120_000)

  it('answers fees and net profit in the KPIs, the profit dashboard, the timeseries and per order', async () => {
    await checkAll(0)
  })

  it('answers 404 naming an unknown order, and never another tenant’s', async () => {
    const missing = await getJson(app!, key, '/v1/orders/nope', errorSchema)
    expect(missing.status).toBe(404)
    expect(missing.body.error.message).toContain('nope')
    const other = await getJson(app!, otherKey, '/v1/orders/o-1', errorSchema)
    expect(other.status).toBe(404)
    expect(other.body.error.message).toContain('o-1')
    const kpis = (await getJson(app!, otherKey, `/v1/metrics/kpis?${range}`, kpisAnswer)).body
    expect([kpis.fees, kpis.net_profit]).toEqual(['0.00', '0.00'])
  })

  it('refuses negative or non-money fees and a fee.charged without amount, naming the field', async () => {
    const bad = [
      order('order.created', 'o-bad', '09:00:00', { total: '1.00', subtotal: '1.00', fees: '-0.01' }),
      { ...events[5], id: id(), fees: 'a lot' },
      { id: id(), type: 'fee.charged', ts: at('09:00:00'), source: 'stripe', kind: 'monthly' },
      fee('09:00:00', '10000000000.01', 'monthly'),
    ]
    const { status, body } = await postEvents(app!, key, bad, fieldErrors)
    expect(status).toBe(400)
    expect(body.error.details.map((d) => [d.index, d.path])).toEqual([
      [0, 'fees'],
      [1, 'fees'],
      [2, 'amount'],
      [3, 'amount'],
    ])
  })

  it('is the same after a checkpoint, a later event and a restart', async () => {
    const taken = await send(app!, ADMIN_TOKEN, 'POST', '/v1/admin/checkpoints', checkpointAnswer)
    expect(taken.status).toBe(200)
    // Replayed after the snapshot on the next start: one more fee billed apart.
    expect((await postEvents(app!, key, [fee('16:00:00', '0.01', 'rounding')])).status).toBe(202)
    await waitFor(async () => {
      const { body } = await getJson(app!, key, `/v1/metrics/kpis?${range}`, kpisAnswer)
      return body.fees === money(fees + 1) ? body : undefined
    }, 'the later fee applied')
    await app!.kill('SIGTERM')
    app = await startApp({ dataDir: app!.dataDir })
    await checkAll(1)
  }, 180_000)
})
