// A paused owner lands and acks nothing after losing its leases. Two nodes (processes with their
// own DATA_DIR and embedded chDB) on one nats-server split the partitions; node a has applied
// orders of its tenants that it has not landed yet (its flush interval is long, and /metrics shows
// no flush), when it is stopped (SIGSTOP) past its lease TTL. b takes every partition over, more
// orders arrive, and a is woken (SIGCONT). a finds its leases lost and stops with exit code 75
// (docs/cluster.md, "What a stale owner can and cannot do"), having landed nothing: its ClickHouse
// holds no event and no partition's history record names it. Everything a applied but had not
// landed (nor acked) was delivered to b again and counted there once: b's KPIs equal the totals
// computed here plainly, and b applied each event exactly once (its /metrics counters).
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { Kvm } from '@nats-io/kv'
import { afterAll, describe, expect, it } from 'vitest'
import { openClickHouse, rows } from '../../clickhouse/index.ts'
import { historyId } from '../../clickhouse/recovery.ts'
import { CLUSTER_BUCKET } from '../../ingest/partitions.ts'
import { partitionOf } from '../../ingest/streams.ts'
import { customerResponse } from '../../query/customer-routes.ts'
import { historyKey } from '../../stream/partition-state.ts'
import { balanced } from './cluster-scenario.ts'
import * as h from './harness.ts'

const P = 16
const BEFORE = 10 // orders per tenant posted before the pause (0 … 9) …
const DURING = 5 // … and while a is stopped (10 … 14)
const range = 'from=2026-11-20T00:00:00Z&to=2026-11-21T00:00:00Z'

/** One tenant per partition: tenant p's partition is p. */
const TENANTS = Array.from({ length: P }, (_, p) => {
  for (let n = 0; ; n++) if (partitionOf(`pause-${p}-${n}`, P) === p) return `pause-${p}-${n}`
})
const money = (cents: number) => (cents / 100).toFixed(2)
/** Order k of tenant t: (t + 1) × 100 + k cents. */
const cents = (t: number, k: number) => (t + 1) * 100 + k
function order(t: number, k: number) {
  const total = money(cents(t, k))
  return {
    id: `o-${k}`,
    type: 'order.created',
    ts: new Date(Date.UTC(2026, 10, 20, 8, k)).toISOString(),
    source: 'shopify',
    order_id: `o-${k}`,
    customer_id: `c-${k % 3}`,
    total,
    subtotal: total,
    items: [{ sku: 's', quantity: 1, price: total }],
  }
}
const orders = (t: number, from: number, to: number) => Array.from({ length: to - from }, (_, i) => order(t, from + i))
function totals(t: number, n: number) {
  let gmv = 0
  for (let k = 0; k < n; k++) gmv += cents(t, k)
  return { orders: n, gmv: money(gmv), refunds: '0.00', net_sales: money(gmv) }
}

const servers: h.TestNats[] = []
const nodes: h.App[] = []
afterAll(async () => {
  for (const node of nodes) {
    node.process.kill('SIGCONT')
    await node.kill('SIGKILL')
    rmSync(node.dataDir, { recursive: true, force: true })
  }
  for (const nats of servers) await nats.stop()
})
const startNode = async (nats: h.TestNats, env: Record<string, string> = {}) => {
  const node = await h.startApp({
    env: {
      NATS_URL: nats.url,
      SECRET_KEY: 'cluster-test-secret-key-0123456789',
      LEASE_TTL_MS: '3000',
      STREAM_WORKERS: '0',
      CHECKPOINT_INTERVAL_SECONDS: '0',
      ...env,
    },
  })
  nodes.push(node)
  return node
}

describe('an owner paused past its leases', () => {
  it('(SIGSTOP, then SIGCONT) lands and acks nothing after losing them; its unlanded work is counted once by the new owner', async () => {
    const nats = await h.startNats()
    servers.push(nats)
    // a lands only on its flush timer, a minute after its start: until the pause its work is applied, not landed.
    const a = await startNode(nats, { FLUSH_INTERVAL_MS: '60000' })
    const b = await startNode(nats)
    const [view] = await balanced([a, b])
    const aNode = view.body.node
    const ofA = view.body.partition_owners.filter((p) => p.owner === aNode).map((p) => p.partition)
    expect(ofA).toHaveLength(P / 2)

    const keys: string[] = []
    for (const id of TENANTS) keys.push(await h.createTenant(a, { id }))
    for (let t = 0; t < P; t++)
      expect((await h.postEvents(t % 2 ? a : b, keys[t], orders(t, 0, BEFORE))).status).toBe(202)
    for (let t = 0; t < P; t++) {
      const kpis = await h.waitForKpis(a, keys[t], range, (k) => k.orders === BEFORE)
      expect(kpis, TENANTS[t]).toMatchObject(totals(t, BEFORE))
    }
    // a applied its tenants' orders and landed none of them.
    const beforePause = await h.scrape(a)
    expect(beforePause.get('pulse_flush_duration_seconds_count') ?? 0).toBe(0)
    for (const p of ofA)
      expect(beforePause.get(`pulse_events_applied_total{tenant="${TENANTS[p]}"}`), TENANTS[p]).toBe(BEFORE)

    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      a.process.once('exit', (code, signal) => resolve({ code, signal })),
    )
    a.process.kill('SIGSTOP')
    // a's leases age out; b takes every partition and loads a's from JetStream (a landed none).
    await balanced([b])
    for (let t = 0; t < P; t++)
      expect((await h.postEvents(b, keys[t], orders(t, BEFORE, BEFORE + DURING))).status).toBe(202)
    // What a had applied but not landed was delivered to b again: every order counted once.
    for (let t = 0; t < P; t++) {
      const kpis = await h.waitForKpis(b, keys[t], range, (k) => k.orders === BEFORE + DURING)
      expect(kpis, TENANTS[t]).toMatchObject(totals(t, BEFORE + DURING))
    }

    a.process.kill('SIGCONT')
    expect(await exited).toEqual({ code: 75, signal: null })
    console.log(
      'a on waking:',
      a
        .output()
        .split('\n')
        .filter((line) => /lease (was )?lost/.test(line))
        .map((line) => JSON.parse(line).msg),
    )

    // a did not announce itself again on waking (its membership key aged out while it was stopped):
    // b never counts a node that stopped as live, nor hands it partitions that nobody would take.
    const members = await new Kvm(nats.nc).open('pulse_nodes')
    expect((await members.get(aNode))?.operation ?? 'absent').not.toBe('PUT')

    // a landed nothing: its ClickHouse holds no event and no rollup row, and no partition's
    // history record names a's history (a node notes it before its first landing of a partition).
    const clickhouse = openClickHouse({ path: join(a.dataDir, 'clickhouse') })
    try {
      const [{ n: events }] = await rows<{ n: string }>(clickhouse, 'SELECT count() AS n FROM pulse.events')
      const [{ n: rollups }] = await rows<{ n: string }>(clickhouse, 'SELECT count() AS n FROM pulse.rollup_minute')
      expect({ events: Number(events), rollups: Number(rollups) }).toEqual({ events: 0, rollups: 0 })
      const aHistory = await historyId(clickhouse)
      const kv = await new Kvm(nats.nc).open(CLUSTER_BUCKET)
      for (let p = 0; p < P; p++) {
        const record = ((await kv.get(historyKey(p)))?.json<string[]>() ?? []) as string[]
        expect(record, `history.p${p}`).not.toContain(aHistory)
        expect(record, `history.p${p}`).toHaveLength(1) // b's
      }
    } finally {
      await clickhouse.close()
    }

    // b, alone, still answers every tenant exactly, and applied each event once.
    const [alone] = await balanced([b])
    expect(alone.body.nodes.map((n) => n.id)).toEqual([alone.body.node])
    expect(b.output()).not.toContain('partition handed over')
    const applied = await h.scrape(b)
    for (let t = 0; t < P; t++) {
      const kpis = await h.waitForKpis(b, keys[t], range, (k) => k.orders === BEFORE + DURING)
      expect(kpis, TENANTS[t]).toMatchObject(totals(t, BEFORE + DURING))
      expect(applied.get(`pulse_events_applied_total{tenant="${TENANTS[t]}"}`), TENANTS[t]).toBe(BEFORE + DURING)
    }
  }, 240_000)
  it('a node handing partitions over to one that joins lands their applied work first, and is not taken for fenced', async () => {
    const nats = await h.startNats()
    servers.push(nats)
    const a = await startNode(nats, { FLUSH_INTERVAL_MS: '60000' })
    await balanced([a])
    const keys: string[] = []
    for (const id of TENANTS) keys.push(await h.createTenant(a, { id }))
    for (let t = 0; t < P; t++) expect((await h.postEvents(a, keys[t], orders(t, 0, BEFORE))).status).toBe(202)
    for (let t = 0; t < P; t++) await h.waitForKpis(a, keys[t], range, (k) => k.orders === BEFORE)
    expect((await h.scrape(a)).get('pulse_flush_duration_seconds_count') ?? 0).toBe(0)

    // b joins: a hands half of the partitions over, each with orders applied and not landed yet.
    const b = await startNode(nats)
    const [view] = await balanced([a, b])
    expect(a.process.exitCode).toBeNull()
    expect(a.output()).not.toContain('lands and acks nothing more')
    const aNode = view.body.node
    const moved = view.body.partition_owners.filter((p) => p.owner !== aNode).map((p) => p.partition)
    expect(moved).toHaveLength(P / 2)
    expect((await h.scrape(a)).get('pulse_flush_duration_seconds_count')).toBeGreaterThan(0)
    // a landed and acked them: b loaded them from JetStream up to the ack floor and applied none again.
    const appliedOnB = await h.scrape(b)
    for (const p of moved) {
      expect(appliedOnB.get(`pulse_events_applied_total{tenant="${TENANTS[p]}"}`), TENANTS[p]).toBeUndefined()
      const customer = await h.getJson(b, keys[p], '/v1/customers/c-0?as_of=2026-11-21T00:00:00Z', customerResponse)
      expect(customer.body.frequency, TENANTS[p]).toBe(Math.ceil(BEFORE / 3))
    }
  }, 240_000)
})
