// Two nodes (two processes with their own DATA_DIR and embedded chDB) on one nats-server split
// the 16 partitions 8/8; events for 16 tenants posted to either node; every tenant's KPIs and RFM
// answered by either node are the same, equal to totals computed here plainly, and each event was
// applied exactly once across the two (their /metrics counters).
import { afterAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { partitionOf } from '../../ingest/streams.ts'
import { kpisAnswer } from '../../query/metrics-routes.ts'
import {
  ORDERS_PER_TENANT,
  TENANTS,
  balanced,
  eventsOf,
  everyAnswerExactOnTwoNodes,
  range,
} from './cluster-scenario.ts'
import * as h from './harness.ts'

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

describe('two nodes on one NATS', () => {
  it('split the partitions; either node answers every tenant exactly; nothing is applied twice', async () => {
    const nats = await h.startNats()
    servers.push(nats)
    const a = await startNode(nats)
    const b = await startNode(nats)
    await balanced([a, b])
    await everyAnswerExactOnTwoNodes(a, b)
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
