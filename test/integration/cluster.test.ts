// Two nodes (two processes with their own DATA_DIR and embedded chDB) on one nats-server split
// the 16 partitions 8/8; events for 16 tenants posted to either node; every tenant's KPIs and RFM
// answered by either node are the same, equal to totals computed here plainly, and each event was
// applied exactly once across the two (their /metrics counters).
import { afterAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { partitionOf } from '../../ingest/streams.ts'
import { rfmResponse } from '../../query/customer-routes.ts'
import { clusterAnswer } from '../../query/cluster-route.ts'
import { kpisAnswer } from '../../query/metrics-routes.ts'
import * as h from './harness.ts'

const TENANTS = Array.from({ length: 16 }, (_, i) => `shop-${i}`)
const ORDERS_PER_TENANT = 60
const range = 'from=2026-11-20T00:00:00Z&to=2026-11-21T00:00:00Z'

const servers: h.TestNats[] = []
const nodes: h.App[] = []
afterAll(async () => {
  for (const node of nodes) await node.kill()
  for (const nats of servers) await nats.stop()
})
const startNode = async (nats: h.TestNats) => {
  const env = { NATS_URL: nats.url, SECRET_KEY: 'cluster-test-secret-key-0123456789', LEASE_TTL_MS: '3000' }
  const node = await h.startApp({ env })
  nodes.push(node)
  return node
}
/** Waits until `ids` split the partitions evenly and every one is ready on its owner. */
const balanced = (among: h.App[]) =>
  h.waitFor(async () => {
    const views = await Promise.all(among.map((n) => h.getJson(n, h.ADMIN_TOKEN, '/v1/admin/cluster', clusterAnswer)))
    const owners = views[0].body.partition_owners.map((p) => p.owner)
    const share = views.map((v) => owners.filter((o) => o === v.body.node).length)
    const allReady = views.every((v) =>
      v.body.partition_owners.filter((p) => p.owner === v.body.node).every((p) => p.ready),
    )
    return share.every((n) => n === 16 / among.length) && allReady ? views : undefined
  }, `${among.length} node(s) owning every partition, all ready`)

/** Tenant t's orders: order i of customer i % 7, total (t + 1) × (i + 1) cents + 1.00; every 5th refunded 0.50. */
function eventsOf(t: number) {
  const events: Record<string, unknown>[] = []
  for (let i = 0; i < ORDERS_PER_TENANT; i++) {
    const cents = (t + 1) * (i + 1) + 100
    events.push({
      id: `o-${i}`,
      type: 'order.created',
      ts: new Date(Date.UTC(2026, 10, 20, 8, i)).toISOString(),
      source: 'shopify',
      order_id: `o-${i}`,
      customer_id: `c-${i % 7}`,
      total: (cents / 100).toFixed(2),
      subtotal: (cents / 100).toFixed(2),
      items: [{ sku: 's', quantity: 1, price: (cents / 100).toFixed(2) }],
    })
    if (i % 5 === 4)
      events.push({
        id: `r-${i}`,
        type: 'refund.created',
        ts: new Date(Date.UTC(2026, 10, 20, 9, i)).toISOString(),
        source: 'shopify',
        order_id: `o-${i}`,
        refund_id: `r-${i}`,
        amount: '0.50',
      })
  }
  return events
}
const cents = (n: number) => (n / 100).toFixed(2)
function expected(t: number) {
  let gmv = 0
  for (let i = 0; i < ORDERS_PER_TENANT; i++) gmv += (t + 1) * (i + 1) + 100
  const refunds = Math.floor(ORDERS_PER_TENANT / 5) * 50
  return { orders: ORDERS_PER_TENANT, gmv: cents(gmv), refunds: cents(refunds), net_sales: cents(gmv - refunds) }
}

describe('two nodes on one NATS', () => {
  it('split the partitions; either node answers every tenant exactly; nothing is applied twice', async () => {
    const nats = await h.startNats()
    servers.push(nats)
    const a = await startNode(nats)
    const b = await startNode(nats)
    await balanced([a, b])

    const keys = []
    for (const id of TENANTS) keys.push(await h.createTenant(a, { id }))
    // Each tenant's events go half to a, half to b.
    for (let t = 0; t < TENANTS.length; t++) {
      const events = eventsOf(t)
      const half = Math.floor(events.length / 2)
      expect((await h.postEvents(a, keys[t], events.slice(0, half))).status).toBe(202)
      expect((await h.postEvents(b, keys[t], events.slice(half))).status).toBe(202)
    }
    for (let t = 0; t < TENANTS.length; t++) {
      const fromA = await h.waitForKpis(
        a,
        keys[t],
        range,
        (k) => k.orders === ORDERS_PER_TENANT && k.refunds !== '0.00',
      )
      expect(fromA, TENANTS[t]).toMatchObject(expected(t))
      const fromB = await h.getJson(b, keys[t], `/v1/metrics/kpis?${range}`, kpisAnswer)
      expect(h.figures(fromB.body)).toEqual(h.figures(fromA))
      const rfmA = await h.getJson(a, keys[t], '/v1/dashboards/rfm?as_of=2026-11-21T00:00:00Z', rfmResponse)
      const rfmB = await h.getJson(b, keys[t], '/v1/dashboards/rfm?as_of=2026-11-21T00:00:00Z', rfmResponse)
      expect(rfmA.status).toBe(200)
      expect(rfmA.body.kpi.total_customer).toBe(7)
      expect(rfmB.body).toEqual(rfmA.body)
    }
    // Every event applied once, on its partition's owner.
    const [sa, sb] = await Promise.all([h.scrape(a), h.scrape(b)])
    for (let t = 0; t < TENANTS.length; t++) {
      const key = `pulse_events_applied_total{tenant="${TENANTS[t]}"}`
      expect((sa.get(key) ?? 0) + (sb.get(key) ?? 0), TENANTS[t]).toBe(eventsOf(t).length)
      expect(sa.has(key) && sb.has(key), `${TENANTS[t]} applied on one node only`).toBe(false)
    }
  }, 240_000)

  it('a partition moved to a node without its history: 503 history_unavailable, never a short figure', async () => {
    const nats = await h.startNats()
    servers.push(nats)
    const a = await startNode(nats)
    await balanced([a])
    const keys = []
    for (const id of TENANTS) keys.push(await h.createTenant(a, { id }))
    for (let t = 0; t < TENANTS.length; t++) expect((await h.postEvents(a, keys[t], eventsOf(t))).status).toBe(202)
    const before = []
    for (let t = 0; t < TENANTS.length; t++)
      before.push(await h.waitForKpis(a, keys[t], range, (k) => k.orders === ORDERS_PER_TENANT && k.refunds !== '0.00'))
    // Everything lands in a's ClickHouse before b takes half of the partitions.
    expect((await h.send(a, h.ADMIN_TOKEN, 'POST', '/v1/admin/checkpoints', z.unknown())).status).toBe(200)
    const b = await startNode(nats)
    const [view] = await balanced([a, b])
    const owners = view.body.partition_owners.map((p) => p.owner)
    let moved = 0
    for (let t = 0; t < TENANTS.length; t++) {
      const onB = owners[partitionOf(TENANTS[t], 16)] !== view.body.node
      for (const node of [a, b]) {
        const answer = await h.getJson(node, keys[t], `/v1/metrics/kpis?${range}`, z.unknown())
        if (onB) {
          expect(answer.status, TENANTS[t]).toBe(503)
          expect((answer.body as { error: { code: string } }).error.code).toBe('history_unavailable')
        } else {
          expect(answer.status, TENANTS[t]).toBe(200)
          expect(h.figures(answer.body as h.Kpis)).toEqual(h.figures(before[t]))
        }
      }
      if (onB) moved++
    }
    expect(moved).toBe(TENANTS.filter((id) => owners[partitionOf(id, 16)] !== view.body.node).length)
    expect(moved).toBeGreaterThan(0)
    // b stops and hands its partitions back to a, which holds their whole history: exact again.
    await b.kill('SIGTERM')
    await balanced([a])
    for (let t = 0; t < TENANTS.length; t++) {
      const again = await h.getJson(a, keys[t], `/v1/metrics/kpis?${range}`, kpisAnswer)
      expect(h.figures(again.body), TENANTS[t]).toEqual(h.figures(before[t]))
    }
  }, 240_000)
})
