// One `npm start` with STREAM_WORKERS=2: the partitions run in two worker threads, each a node of
// its own on the process's NATS, and the main thread serves HTTP and WebSocket as an `api` node,
// reaching them by the same protocol as other processes (app/forward.ts). Every answer is exact,
// each event applied once (the process's /metrics sums its threads), SQL and live topics work
// through the threads, a checkpoint is taken by both, and a restart with one thread replays nothing.
import { afterAll, describe, expect, it, onTestFailed } from 'vitest'
import { z } from 'zod'
import { partitionOf } from '../../ingest/streams.ts'
import { checkpointAnswer } from '../../query/checkpoint-route.ts'
import { clusterAnswer } from '../../query/cluster-route.ts'
import { rfmResponse } from '../../query/customer-routes.ts'
import { kpisAnswer } from '../../query/metrics-routes.ts'
import { ORDERS_PER_TENANT, TENANTS, eventsOf, expected, range } from './cluster-scenario.ts'
import * as h from './harness.ts'

const apps: h.App[] = []
afterAll(async () => {
  for (const app of apps) await app.kill()
})

const start = async (workers: number, dataDir?: string) => {
  const app = await h.startApp({ dataDir, env: { STREAM_WORKERS: String(workers) } })
  apps.push(app)
  return app
}

/** Waits until the process's worker threads hold every partition, `share` each, all ready. */
const threadsHoldEverything = (app: h.App, threads: number) =>
  h.waitFor(async () => {
    const { body } = await h.getJson(app, h.ADMIN_TOKEN, '/v1/admin/cluster', clusterAnswer)
    const workers = body.nodes.filter((n) => n.role === 'worker').map((n) => n.id)
    const owners = body.partition_owners.map((p) => p.owner)
    const even = workers.every((w) => owners.filter((o) => o === w).length === 16 / threads)
    return workers.length === threads && even && owners.every((o) => o !== null) ? body : undefined
  }, `${threads} worker thread(s) holding every partition`)

describe('stream worker threads', () => {
  it('answer every tenant exactly through the main thread, apply each event once, checkpoint and restart', async () => {
    // A failure (a time-out above all) says where each app was.
    onTestFailed(() => {
      for (const app of apps) console.log(`--- ${app.dataDir}\n${app.output().split('\n').slice(-60).join('\n')}`)
    })
    const app = await start(2)
    const cluster = await threadsHoldEverything(app, 2)
    const api = cluster.node
    expect(cluster.nodes.find((n) => n.id === api)?.role).toBe('api')
    expect(
      cluster.nodes
        .filter((n) => n.role === 'worker')
        .map((n) => n.id)
        .sort(),
    ).toEqual([`${api}-w0`, `${api}-w1`])

    const keys: string[] = []
    for (const id of TENANTS) keys.push(await h.createTenant(app, { id }))
    for (let t = 0; t < TENANTS.length; t++) expect((await h.postEvents(app, keys[t], eventsOf(t))).status).toBe(202)
    const before: h.Kpis[] = []
    for (let t = 0; t < TENANTS.length; t++) {
      const kpis = await h.waitForKpis(
        app,
        keys[t],
        range,
        (k) => k.orders === ORDERS_PER_TENANT && k.refunds !== '0.00',
      )
      expect(kpis, TENANTS[t]).toMatchObject(expected(t))
      before.push(kpis)
      const rfm = await h.getJson(app, keys[t], '/v1/dashboards/rfm?as_of=2026-11-21T00:00:00Z', rfmResponse)
      expect(rfm.body.kpi.total_customer).toBe(7)
    }
    // Each event applied once, by the thread owning its tenant's partition; one scrape sums the threads.
    const counters = await h.scrape(app)
    for (let t = 0; t < TENANTS.length; t++)
      expect(counters.get(`pulse_events_applied_total{tenant="${TENANTS[t]}"}`), TENANTS[t]).toBe(eventsOf(t).length)
    // Both threads hold tenants here (the 16 tenants fall in more than one thread's partitions).
    const owners = cluster.partition_owners.map((p) => p.owner)
    expect(new Set(TENANTS.map((id) => owners[partitionOf(id, 16)])).size).toBe(2)

    // SQL runs in the owner thread, on the process's one ClickHouse.
    const rows = await h.sqlRows(app, keys[3], "SELECT count() AS n FROM events WHERE type = 'order.created'")
    expect(Number(rows[0].n)).toBe(ORDERS_PER_TENANT)

    // A live topic: the hub on the main thread, the figures from the owner thread.
    const live = await h.connectLive(app, keys[5])
    live.send({ op: 'subscribe', topics: ['kpis'] })
    const first = await live.next((m) => m.type === 'snapshot' && m.topic === 'kpis', 'kpis snapshot')
    const order = {
      id: 'live-1',
      type: 'order.created',
      ts: new Date().toISOString(),
      source: 'web',
      order_id: 'live-1',
      customer_id: 'c-live',
      total: '12.34',
      subtotal: '12.34',
      items: [{ sku: 's', quantity: 1, price: '12.34' }],
    }
    expect((await h.postEvents(app, keys[5], [order])).status).toBe(202)
    const update = await live.next(
      (m) => m.topic === 'kpis' && m.data?.orders === first.data.orders + 1,
      'kpis update with the live order',
    )
    expect(update.data.orders).toBe(first.data.orders + 1)
    live.close()

    // Both threads take a checkpoint of their own partitions.
    const checkpoint = await h.send(app, h.ADMIN_TOKEN, 'POST', '/v1/admin/checkpoints', checkpointAnswer)
    expect(checkpoint.status).toBe(200)
    expect(checkpoint.body.nodes.map((n) => n.node).sort()).toEqual([`${api}-w0`, `${api}-w1`])
    expect(checkpoint.body.nodes.every((n) => n.taken)).toBe(true)

    // A graceful stop lands and hands back everything; one thread then holds all and replays nothing.
    await app.kill('SIGTERM')
    expect(app.process.exitCode).toBe(0)
    const again = await start(1, app.dataDir)
    await threadsHoldEverything(again, 1)
    const loaded = again
      .output()
      .split('\n')
      .filter((l) => l.includes('"msg":"state loaded: snapshots and later history replayed"'))
      .map((l) => JSON.parse(l) as { node: string; partitions: number; snapshots: number; replayed: number })
      .find((l) => l.node === api)
    // A snapshot for each partition that holds one of the tenants; the others have no history.
    const withTenants = new Set(TENANTS.map((id) => partitionOf(id, 16))).size
    expect(loaded).toMatchObject({ partitions: 16, snapshots: withTenants, replayed: 0 })
    for (let t = 0; t < TENANTS.length; t++) {
      const kpis = await h.getJson(again, keys[t], `/v1/metrics/kpis?${range}`, kpisAnswer)
      expect(h.figures(kpis.body), TENANTS[t]).toEqual(h.figures(before[t]))
    }
    expect((await h.getJson(again, h.ADMIN_TOKEN, '/healthz', z.unknown())).status).toBe(200)
  }, 240_000)
})
