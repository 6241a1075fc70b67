// Inventory against the real app (NATS, chDB): stock over two locations, orders selling a SKU, an
// edit and a cancellation; every figure of GET /v1/inventory equals a plain computation here. A
// `low_stock` rule fires on event time as orders push cover down and resolves on a restock, both
// pushed on the `alerts` topic. After a checkpoint and a restart the answers are the same (loaded
// from the snapshot, nothing replayed); another tenant sees none of it; bad input is a 400 naming
// the field.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { alertsAnswer, ruleAnswer } from '../../alerts/routes.ts'
import { partitionOf } from '../../ingest/index.ts'
import { checkpointAnswer } from '../../query/checkpoint-route.ts'
import { inventoryResponse, inventorySkuResponse } from '../../query/inventory-routes.ts'
import * as h from './harness.ts'

const DAY = 86_400_000
const T = Date.UTC(2026, 10, 20, 10, 0) // 20 November, UTC tenant
const ENV = { CHECKPOINT_INTERVAL_SECONDS: '0' }

let app: h.App
let keyA: string
let keyB: string
const clients: h.LiveClient[] = []

beforeAll(async () => {
  app = await h.startApp({ env: ENV })
  keyA = await h.createTenant(app, { id: 'inv-a' })
  keyB = await h.createTenant(app, { id: 'inv-b' })
})

afterAll(async () => {
  for (const c of clients) c.close()
  await app?.kill()
})

// ---- The events, and the plain model they are checked against ----------------------------------
let n = 0
type Ev = Record<string, unknown>
const level = (sku: string, location_id: string, available: number, ts: number): Ev => ({
  id: `l-${++n}`,
  type: 'inventory.level',
  ts,
  source: 'shopify',
  sku,
  location_id,
  available,
})
const orderEvent = (type: string, order_id: string, ts: number, items: [string, number][]): Ev => ({
  id: `o-${++n}`,
  type,
  ts,
  source: 'shopify',
  order_id,
  total: '10.00',
  subtotal: '10.00',
  items: items.map(([sku, quantity]) => ({ sku, quantity, price: '1.00' })),
})
const cancel = (order_id: string, ts: number): Ev => ({
  id: `c-${++n}`,
  type: 'order.cancelled',
  ts,
  source: 'shopify',
  order_id,
})

/** What the events say, computed the plain way: levels by (sku, location), orders by id. */
const model = {
  levels: new Map<string, Map<string, { available: number; ts: number }>>(),
  orders: new Map<string, { day: number; windowTs: number; ts: number; lines: [string, number][] }>(),
  cancelled: new Set<string>(),
  newest: 0,
  apply(events: Ev[]) {
    for (const e of events) {
      const ts = e.ts as number
      this.newest = Math.max(this.newest, ts)
      if (e.type === 'inventory.level') {
        const m = this.levels.get(e.sku as string) ?? new Map()
        this.levels.set(e.sku as string, m)
        const old = m.get(e.location_id as string)
        if (!old || ts >= old.ts) m.set(e.location_id as string, { available: e.available as number, ts })
      } else if (e.type === 'order.cancelled') this.cancelled.add(e.order_id as string)
      else {
        const lines = (e.items as { sku: string; quantity: number }[]).map(
          (i) => [i.sku, i.quantity] as [string, number],
        )
        const old = this.orders.get(e.order_id as string)
        if (!old) this.orders.set(e.order_id as string, { day: Math.floor(ts / DAY), windowTs: ts, ts, lines })
        else if (ts >= old.ts) this.orders.set(e.order_id as string, { ...old, ts, lines })
      }
    }
  },
  /** Per SKU with a level: the answer GET /v1/inventory should give. */
  expected() {
    const end = Math.floor(this.newest / DAY)
    return [...this.levels.keys()].sort().map((sku) => {
      const locations = [...this.levels.get(sku)!]
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([location_id, l]) => ({
          location_id,
          available: l.available,
          updated_at: new Date(l.ts).toISOString(),
        }))
      const available = locations.reduce((s, l) => s + l.available, 0)
      let units = 0
      for (const [id, o] of this.orders)
        if (!this.cancelled.has(id) && o.day >= end - 27 && o.day <= end)
          for (const [s, q] of o.lines) if (s === sku) units += q
      const cover = units === 0 ? null : (Math.sign(available) * Math.round((Math.abs(available) * 280) / units)) / 10
      return { sku, available, locations, units_28d: units, days_of_cover: cover, stock_out: available <= 0 }
    })
  },
}

const inventory = async (key = keyA, query = '') =>
  (await h.getJson(app, key, `/v1/inventory${query}`, inventoryResponse)).body
/** Posts the events and waits until GET /v1/inventory shows the model's figures. */
async function post(events: Ev[]) {
  expect((await h.postEvents(app, keyA, events)).status).toBe(202)
  model.apply(events)
  const expected = model.expected()
  return h.waitFor(async () => {
    const body = await inventory()
    return JSON.stringify(body.skus) === JSON.stringify(expected) ? body : undefined
  }, 'the inventory to match the plain computation')
}
const lowAlerts = async () => (await h.getJson(app, keyA, '/v1/alerts?rule_id=low', alertsAnswer)).body

describe('inventory', () => {
  it('levels over two locations, orders, an edit and a cancellation: every figure as computed plainly', async () => {
    const created = await h.send(app, keyA, 'POST', '/v1/alerts/rules', ruleAnswer, {
      id: 'low',
      kind: 'low_stock',
      name: 'Under a week of stock',
    })
    expect(created.status).toBe(201)
    expect(created.body.rule).toMatchObject({ kind: 'low_stock', days: 7, cooldown_minutes: 30 })

    const body = await post([
      level('tee', 'wh-1', 50, T),
      level('tee', 'wh-2', 20, T),
      level('tee', 'wh-1', 999, T - 3_600_000), // older: ignored
      level('mug', 'wh-1', 12, T),
      orderEvent('order.created', 'o1', T, [
        ['tee', 10],
        ['mug', 2],
      ]),
      orderEvent('order.created', 'o2', T - 5 * DAY, [['tee', 18]]),
      orderEvent('order.created', 'o-old', T - 40 * DAY, [['tee', 500]]), // before the 28 days
      orderEvent('order.created', 'o3', T + 60_000, [['tee', 4]]),
      orderEvent('order.updated', 'o1', T + 120_000, [['tee', 12]]), // the edit: no mug any more
      cancel('o3', T + 180_000),
    ])
    expect([body.from_day, body.to_day]).toEqual(['2026-10-24', '2026-11-20'])
    expect(body.total).toBe(2)
    // tee: 70 available, 12 + 18 sold (o3 cancelled, o-old out of the window): 70 × 28 ÷ 30 = 65.3.
    expect(body.skus[1]).toMatchObject({ sku: 'tee', available: 70, units_28d: 30, days_of_cover: 65.3 })
    expect(body.skus[0]).toMatchObject({ sku: 'mug', available: 12, units_28d: 0, days_of_cover: null })

    // One SKU; filters; paging.
    const tee = await h.getJson(app, keyA, '/v1/inventory/tee', inventorySkuResponse)
    expect(tee.status).toBe(200)
    expect(tee.body).toEqual({ from_day: '2026-10-24', to_day: '2026-11-20', ...model.expected()[1] })
    expect((await inventory(keyA, '?sku=mug')).skus.map((s) => s.sku)).toEqual(['mug'])
    expect((await inventory(keyA, '?location_id=wh-2')).skus.map((s) => s.sku)).toEqual(['tee'])
    expect((await inventory(keyA, '?below_days=65.4')).skus.map((s) => s.sku)).toEqual(['tee'])
    expect((await inventory(keyA, '?below_days=65.3')).skus).toEqual([]) // 65.333…
    expect((await inventory(keyA, '?stock_out=true')).total).toBe(0)
    const page2 = await inventory(keyA, '?page=2&page_size=1')
    expect([page2.total, page2.page, page2.page_size, page2.skus.map((s) => s.sku)]).toEqual([2, 2, 1, ['tee']])
    // Nothing under a week: the rule stays quiet.
    expect((await lowAlerts()).items).toEqual([])
  })

  it('low_stock fires as orders push cover down and resolves on a restock, on event time, pushed on `alerts`', async () => {
    const live = await h.connectLive(app, keyA)
    clients.push(live)
    live.send({ op: 'subscribe', topics: ['alerts'] })
    await live.next((m) => m.type === 'snapshot' && m.topic === 'alerts', 'alerts snapshot')

    // Orders first, then the levels they drew down: every prefix is quiet until the last level.
    const body = await post([
      orderEvent('order.created', 'o4', T + DAY, [['tee', 40]]),
      level('tee', 'wh-1', 2, T + DAY + 60_000),
      level('tee', 'wh-2', 3, T + DAY + 60_000),
    ])
    // 5 available, 70 sold in 28 days: 5 × 28 ÷ 70 = 2.0 days.
    expect(body.skus[1]).toMatchObject({ sku: 'tee', available: 5, units_28d: 70, days_of_cover: 2 })
    expect((await inventory(keyA, '?below_days=7')).skus.map((s) => s.sku)).toEqual(['tee'])

    const pushed = await live.next(
      (m) => m.topic === 'alerts' && m.data.some((a: { rule_id: string }) => a.rule_id === 'low'),
      'the low_stock alert on the live topic',
    )
    const alert = pushed.data.find((a: { rule_id: string }) => a.rule_id === 'low')
    expect(alert).toMatchObject({ kind: 'low_stock', subject: '', state: 'firing' })
    expect(alert.figures).toEqual({
      window_from_day: '2026-10-25',
      window_to_day: '2026-11-21',
      days: 7,
      sku_count: 1,
      skus: 'tee',
      days_of_cover: 'tee=2',
      available: 'tee=5',
      units_28d: 'tee=70',
    })
    expect(alert.message).toBe('1 SKU under 7 days of cover: tee 2 days (5 available)')
    // Event time: the minute after the tenant's newest order.
    expect(alert.at).toBe(new Date(T + DAY + 60_000).toISOString())

    // The restock: 200 more at wh-1 → 203 × 28 ÷ 70 = 81.2 days: resolved.
    const restocked = await post([level('tee', 'wh-1', 200, T + DAY + 120_000)])
    expect(restocked.skus[1]).toMatchObject({ available: 203, days_of_cover: 81.2 })
    const log = await h.waitFor(async () => {
      const b = await lowAlerts()
      return b.items.some((i) => i.state === 'resolved') ? b : undefined
    }, 'the low_stock alert resolved')
    expect(log.items.map((i) => i.state)).toEqual(['resolved', 'firing'])
    expect(log.firing).toEqual([])
    await live.next(
      (m) =>
        m.topic === 'alerts' && m.type === 'update' && !m.data.some((a: { rule_id: string }) => a.rule_id === 'low'),
      'the resolved alert gone from the live topic',
    )
  })

  it('another tenant sees none of it; bad input is a 400 naming the field', async () => {
    const other = await inventory(keyB)
    expect([other.total, other.skus, other.to_day]).toEqual([0, [], null])
    const missing = await h.getJson(app, keyB, '/v1/inventory/tee', h.errorSchema)
    expect(missing.status).toBe(404)
    expect(missing.body.error.message).toContain('tee')
    expect((await h.getJson(app, keyB, '/v1/alerts', alertsAnswer)).body.firing).toEqual([])

    for (const [query, field] of [
      ['?below_days=soon', 'below_days'],
      ['?stock_out=maybe', 'stock_out'],
      ['?page=0', 'page'],
    ]) {
      const bad = await h.getJson(app, keyA, `/v1/inventory${query}`, h.fieldErrors)
      expect(bad.status, query).toBe(400)
      expect(bad.body.error.details.map((d) => d.path)).toEqual([field])
    }
    const badEvent = await h.postEvents(app, keyA, [{ ...level('tee', 'wh-1', 1, T), available: 1.5 }], h.fieldErrors)
    expect(badEvent.status).toBe(400)
    expect(badEvent.body.error.details.map((d) => d.path)).toEqual(['available'])
    const noLocation = await h.postEvents(
      app,
      keyA,
      [{ ...level('tee', 'wh-1', 1, T), location_id: undefined }],
      h.fieldErrors,
    )
    expect(noLocation.status).toBe(400)
    expect(noLocation.body.error.details.map((d) => d.path)).toEqual(['location_id'])
    expect((await h.getJson(app, keyA, '/v1/inventory/nothing-here', h.errorSchema)).status).toBe(404)
  })

  it('after a checkpoint and a restart: the same answers, from the snapshot; later events count exactly', async () => {
    const before = await inventory()
    const teeBefore = (await h.getJson(app, keyA, '/v1/inventory/tee', inventorySkuResponse)).body
    const cp = await h.send(app, h.ADMIN_TOKEN, 'POST', '/v1/admin/checkpoints', checkpointAnswer)
    expect(cp.status).toBe(200)
    await app.kill('SIGTERM')
    app = await h.startApp({ dataDir: app.dataDir, env: ENV })
    const loaded = app
      .output()
      .split('\n')
      .filter((l) => l.includes('"msg":"partition loaded"'))
      .map((l) => JSON.parse(l) as { partition: number; snapshot_seq?: number; replayed: number })
      .find((l) => l.partition === partitionOf('inv-a', 16))
    expect(loaded?.snapshot_seq).toBeDefined()
    expect(loaded?.replayed).toBe(0)
    expect(await inventory()).toEqual(before)
    expect((await h.getJson(app, keyA, '/v1/inventory/tee', inventorySkuResponse)).body).toEqual(teeBefore)
    // An edit of an order from before the restart replaces its lines exactly once.
    const after = await post([orderEvent('order.updated', 'o2', T - 5 * DAY + 60_000, [['tee', 8]])])
    expect(after.skus[1]).toMatchObject({ units_28d: 60, days_of_cover: 94.7 }) // 203 × 28 ÷ 60 = 94.73…
  })
})
