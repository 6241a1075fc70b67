// The scenario of the cluster tests (cluster.test.ts on one nats-server, cluster-r3.test.ts on three
// with R3 streams): 16 tenants' orders and refunds, what their KPIs must be, and the run itself on
// two nodes that split the partitions.
import { expect } from 'vitest'
import { rfmResponse } from '../../query/customer-routes.ts'
import { clusterAnswer } from '../../query/cluster-route.ts'
import { kpisAnswer } from '../../query/metrics-routes.ts'
import * as h from './harness.ts'

export const TENANTS = Array.from({ length: 16 }, (_, i) => `shop-${i}`)
export const ORDERS_PER_TENANT = 60
export const range = 'from=2026-11-20T00:00:00Z&to=2026-11-21T00:00:00Z'

/**
 * Waits (up to a minute: takeovers wait for leases to age out) until `among` split the 16
 * partitions evenly and every one is ready on its owner; a timeout says who held what.
 */
export const balanced = (among: h.App[]) =>
  h.waitFor(
    async () => {
      const views = await Promise.all(among.map((n) => h.getJson(n, h.ADMIN_TOKEN, '/v1/admin/cluster', clusterAnswer)))
      const owners = views[0].body.partition_owners.map((p) => p.owner)
      const share = views.map((v) => owners.filter((o) => o === v.body.node).length)
      const notReady = views.map((v) =>
        v.body.partition_owners.filter((p) => p.owner === v.body.node && !p.ready).map((p) => p.partition),
      )
      if (share.every((n) => n === 16 / among.length) && notReady.every((ps) => ps.length === 0)) return views
      const live = views.map((v) => v.body.nodes.map((n) => n.id))
      throw new Error(
        `owners ${JSON.stringify(owners)}, not ready ${JSON.stringify(notReady)}, live ${JSON.stringify(live)}`,
      )
    },
    `${among.length} node(s) owning every partition, all ready`,
    60_000,
  )

/** Tenant t's orders: order i of customer i % 7, total (t + 1) × (i + 1) cents + 1.00; every 5th refunded 0.50. */
export function eventsOf(t: number) {
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
export function expected(t: number) {
  let gmv = 0
  for (let i = 0; i < ORDERS_PER_TENANT; i++) gmv += (t + 1) * (i + 1) + 100
  const refunds = Math.floor(ORDERS_PER_TENANT / 5) * 50
  return { orders: ORDERS_PER_TENANT, gmv: cents(gmv), refunds: cents(refunds), net_sales: cents(gmv - refunds) }
}

/**
 * On two balanced nodes: the 16 tenants are created, each tenant's events posted half to a and half
 * to b; then either node answers every tenant's KPIs and RFM exactly, and each event was applied
 * once, on its partition's owner (the nodes' /metrics counters).
 */
export async function everyAnswerExactOnTwoNodes(a: h.App, b: h.App): Promise<void> {
  const keys = []
  for (const id of TENANTS) keys.push(await h.createTenant(a, { id }))
  for (let t = 0; t < TENANTS.length; t++) {
    const events = eventsOf(t)
    const half = Math.floor(events.length / 2)
    expect((await h.postEvents(a, keys[t], events.slice(0, half))).status).toBe(202)
    expect((await h.postEvents(b, keys[t], events.slice(half))).status).toBe(202)
  }
  for (let t = 0; t < TENANTS.length; t++) {
    const fromA = await h.waitForKpis(a, keys[t], range, (k) => k.orders === ORDERS_PER_TENANT && k.refunds !== '0.00')
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
}
